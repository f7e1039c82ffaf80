-- Deploy skeldir:matview_daily_revenue_summary to pg
BEGIN;

/**
 * Per tenant, UTC day and currency: counts and minor-unit sums of orders, payments and
 * refunds. Owned by matview_owner (see sql/bootstrap.sql) because the refresh aggregates
 * across tenants; no app role may select it, tenants read it through api.daily_revenue.
 */
CREATE MATERIALIZED VIEW skeldir.mv_daily_revenue_summary AS
SELECT e.tenant_id,
       (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
       e.currency::text AS currency,
       pg_catalog.count(*) FILTER (WHERE e.kind = 'order') AS order_count,
       coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'order'), 0)::bigint AS order_minor,
       pg_catalog.count(*) FILTER (WHERE e.kind = 'payment') AS payment_count,
       coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'payment'), 0)::bigint AS payment_minor,
       pg_catalog.count(*) FILTER (WHERE e.kind = 'refund') AS refund_count,
       coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'refund'), 0)::bigint AS refund_minor,
       pg_catalog.count(*) AS event_count
  FROM skeldir.attribution_events AS e
 GROUP BY 1, 2, 3
  WITH NO DATA;
COMMENT ON MATERIALIZED VIEW skeldir.mv_daily_revenue_summary IS
    'Daily revenue per tenant and currency; refreshed concurrently when dirty.';
CREATE UNIQUE INDEX mv_daily_revenue_summary_key
    ON skeldir.mv_daily_revenue_summary (tenant_id, day, currency);

ALTER MATERIALIZED VIEW skeldir.mv_daily_revenue_summary OWNER TO matview_owner;
GRANT SELECT ON skeldir.mv_daily_revenue_summary TO migration_owner;
REFRESH MATERIALIZED VIEW skeldir.mv_daily_revenue_summary;

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_daily_revenue_summary', false);

COMMIT;
