-- Deploy skeldir:matview_channel_performance to pg
BEGIN;

/**
 * Per tenant, UTC day, channel and currency: allocated minor units of orders, payments and
 * refunds (refunds negative) and how many events of each kind reached the channel. From
 * skeldir.allocations alone (each row carries its event's kind): a refresh reads that
 * narrow table, not the events with their payloads. Owned by matview_owner; tenants read
 * it through api.channel_performance.
 */
CREATE MATERIALIZED VIEW skeldir.mv_channel_performance AS
SELECT a.tenant_id,
       (a.occurred_at AT TIME ZONE 'UTC')::date AS day,
       a.channel,
       a.currency::text AS currency,
       pg_catalog.count(*) FILTER (WHERE a.kind = 'order') AS order_count,
       coalesce(pg_catalog.sum(a.amount_minor) FILTER (WHERE a.kind = 'order'), 0)::bigint AS order_minor,
       pg_catalog.count(*) FILTER (WHERE a.kind = 'payment') AS payment_count,
       coalesce(pg_catalog.sum(a.amount_minor) FILTER (WHERE a.kind = 'payment'), 0)::bigint AS payment_minor,
       pg_catalog.count(*) FILTER (WHERE a.kind = 'refund') AS refund_count,
       coalesce(pg_catalog.sum(a.amount_minor) FILTER (WHERE a.kind = 'refund'), 0)::bigint AS refund_minor,
       pg_catalog.sum(a.amount_minor)::bigint AS net_minor
  FROM skeldir.allocations AS a
 GROUP BY 1, 2, 3, 4
  WITH NO DATA;
COMMENT ON MATERIALIZED VIEW skeldir.mv_channel_performance IS
    'Allocated revenue per tenant, day and channel; refreshed concurrently when dirty.';
-- REFRESH ... CONCURRENTLY needs a unique index over all rows.
CREATE UNIQUE INDEX mv_channel_performance_key
    ON skeldir.mv_channel_performance (tenant_id, day, channel, currency);

ALTER MATERIALIZED VIEW skeldir.mv_channel_performance OWNER TO matview_owner;
GRANT SELECT ON skeldir.mv_channel_performance TO migration_owner;
REFRESH MATERIALIZED VIEW skeldir.mv_channel_performance;

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_channel_performance', false);

COMMIT;
