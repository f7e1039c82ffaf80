-- Deploy skeldir:matview_allocation_summary to pg
BEGIN;

/**
 * Per tenant, UTC day, model, channel and currency: how many events allocated something
 * to the channel and the net minor units allocated. The read API sums it over a date
 * range. Owned by matview_owner; tenants read it through api.allocation_summary.
 */
CREATE MATERIALIZED VIEW skeldir.mv_allocation_summary AS
SELECT a.tenant_id,
       (a.occurred_at AT TIME ZONE 'UTC')::date AS day,
       a.model,
       a.channel,
       a.currency::text AS currency,
       pg_catalog.count(*) AS event_count,
       pg_catalog.sum(a.amount_minor)::bigint AS allocated_minor
  FROM skeldir.allocations AS a
 GROUP BY 1, 2, 3, 4, 5
  WITH NO DATA;
COMMENT ON MATERIALIZED VIEW skeldir.mv_allocation_summary IS
    'Allocation totals per tenant, day, model and channel; refreshed concurrently when dirty.';
-- REFRESH ... CONCURRENTLY needs a unique index over all rows.
CREATE UNIQUE INDEX mv_allocation_summary_key
    ON skeldir.mv_allocation_summary (tenant_id, day, model, channel, currency);

ALTER MATERIALIZED VIEW skeldir.mv_allocation_summary OWNER TO matview_owner;
GRANT SELECT ON skeldir.mv_allocation_summary TO migration_owner;
REFRESH MATERIALIZED VIEW skeldir.mv_allocation_summary;

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_allocation_summary', false);

COMMIT;
