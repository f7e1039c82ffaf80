-- Deploy skeldir:matview_realtime_revenue to pg
BEGIN;

/**
 * The last 24 hours per tenant, currency and 5-minute bucket (UTC) of occurred_at: counts
 * and minor-unit sums of orders, payments and refunds. Kept fresh within seconds by the
 * maintenance queue's refresh_matviews task (pg_cron alone is minute-granular). Owned by
 * matview_owner; tenants read it through api.realtime_revenue.
 */
CREATE MATERIALIZED VIEW skeldir.mv_realtime_revenue AS
SELECT e.tenant_id,
       pg_catalog.date_bin('5 minutes', e.occurred_at, '2000-01-01 00:00:00+00') AS bucket,
       e.currency::text AS currency,
       pg_catalog.count(*) FILTER (WHERE e.kind = 'order') AS order_count,
       coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'order'), 0)::bigint AS order_minor,
       pg_catalog.count(*) FILTER (WHERE e.kind = 'payment') AS payment_count,
       coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'payment'), 0)::bigint AS payment_minor,
       pg_catalog.count(*) FILTER (WHERE e.kind = 'refund') AS refund_count,
       coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'refund'), 0)::bigint AS refund_minor
  FROM skeldir.attribution_events AS e
 WHERE e.occurred_at >= pg_catalog.now() - interval '24 hours'
 GROUP BY 1, 2, 3
  WITH NO DATA;
COMMENT ON MATERIALIZED VIEW skeldir.mv_realtime_revenue IS
    'Last 24 hours of revenue per tenant in 5-minute buckets; refreshed concurrently when dirty.';
-- REFRESH ... CONCURRENTLY needs a unique index over all rows.
CREATE UNIQUE INDEX mv_realtime_revenue_key
    ON skeldir.mv_realtime_revenue (tenant_id, bucket, currency);

ALTER MATERIALIZED VIEW skeldir.mv_realtime_revenue OWNER TO matview_owner;
GRANT SELECT ON skeldir.mv_realtime_revenue TO migration_owner;
REFRESH MATERIALIZED VIEW skeldir.mv_realtime_revenue;

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_realtime_revenue', false);

COMMIT;
