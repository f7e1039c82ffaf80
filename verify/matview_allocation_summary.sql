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
    IF (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class AS c
         WHERE c.oid = 'skeldir.mv_allocation_summary'::regclass) <> 'matview_owner' THEN
        RAISE EXCEPTION 'skeldir.mv_allocation_summary is not owned by matview_owner' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
