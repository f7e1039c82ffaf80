-- Verify skeldir:matview_allocation_summary on pg

SELECT tenant_id, day, model, channel, currency, event_count, allocated_minor
  FROM skeldir.mv_allocation_summary
 WHERE false;
SELECT 'skeldir.mv_allocation_summary_key'::regclass;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.mv_allocation_summary', 'SELECT')
       OR pg_catalog.has_table_privilege('app_ro', 'skeldir.mv_allocation_summary', 'SELECT') THEN
        RAISE EXCEPTION 'an app role can select skeldir.mv_allocation_summary directly' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT (SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_catalog.pg_class AS c
             WHERE c.oid = 'skeldir.mv_allocation_summary'::regclass) THEN
        RAISE EXCEPTION 'skeldir.mv_allocation_summary does not force row-level security' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
