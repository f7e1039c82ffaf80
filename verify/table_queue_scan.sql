-- Verify skeldir:table_queue_scan on pg
SELECT queue_name, start_id, candidate_id, candidate_at, confirm_id, confirm_snapshot, full_scan_at
  FROM skeldir.queue_scan WHERE false;
SELECT 1 / (pg_catalog.count(*) = 3)::integer FROM skeldir.queue_scan;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.queue_scan', 'SELECT,INSERT,UPDATE,DELETE')
       OR pg_catalog.has_table_privilege('public', 'skeldir.queue_scan', 'SELECT') THEN
        RAISE EXCEPTION 'skeldir.queue_scan: an app role has a privilege on it' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
