-- Verify skeldir:matview_reconciliation_status on pg

SELECT tenant_id, day, status, currency, ref_count, order_minor, payment_minor
  FROM skeldir.mv_reconciliation_status
 WHERE false;
SELECT 'skeldir.mv_reconciliation_status_key'::regclass;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.mv_reconciliation_status', 'SELECT')
       OR pg_catalog.has_table_privilege('app_ro', 'skeldir.mv_reconciliation_status', 'SELECT') THEN
        RAISE EXCEPTION 'an app role can select skeldir.mv_reconciliation_status directly' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT (SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_catalog.pg_class AS c
             WHERE c.oid = 'skeldir.mv_reconciliation_status'::regclass) THEN
        RAISE EXCEPTION 'skeldir.mv_reconciliation_status does not force row-level security' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
