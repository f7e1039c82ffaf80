-- Deploy skeldir:matview_reconciliation_status to pg
BEGIN;

/**
 * Per tenant, UTC day of first sight, status and currency: how many order references are
 * in that state and their order and payment minor-unit sums. Owned by matview_owner;
 * tenants read it through api.reconciliation_status.
 */
CREATE MATERIALIZED VIEW skeldir.mv_reconciliation_status AS
SELECT r.tenant_id,
       (r.first_seen_at AT TIME ZONE 'UTC')::date AS day,
       r.status,
       coalesce(r.order_currency, r.payment_currency, 'XXX')::text AS currency,  -- XXX: mixed currencies
       pg_catalog.count(*) AS ref_count,
       coalesce(pg_catalog.sum(r.order_minor), 0)::bigint AS order_minor,
       coalesce(pg_catalog.sum(r.payment_minor), 0)::bigint AS payment_minor
  FROM skeldir.reconciliations AS r
 GROUP BY 1, 2, 3, 4
  WITH NO DATA;
COMMENT ON MATERIALIZED VIEW skeldir.mv_reconciliation_status IS
    'Reconciliation states per tenant and day; refreshed concurrently when dirty.';
-- REFRESH ... CONCURRENTLY needs a unique index over all rows.
CREATE UNIQUE INDEX mv_reconciliation_status_key
    ON skeldir.mv_reconciliation_status (tenant_id, day, status, currency);

ALTER MATERIALIZED VIEW skeldir.mv_reconciliation_status OWNER TO matview_owner;
GRANT SELECT ON skeldir.mv_reconciliation_status TO migration_owner;
REFRESH MATERIALIZED VIEW skeldir.mv_reconciliation_status;

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_reconciliation_status', false);

COMMIT;
