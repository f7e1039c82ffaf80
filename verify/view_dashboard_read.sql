-- Verify skeldir:view_dashboard_read on pg
SELECT vendor, day, outcome, count FROM api.dashboard_ingest_counters WHERE false;
SELECT queue, task_id, task_name, retry_count, status, error_message, failed_at FROM api.dashboard_failed_jobs WHERE false;
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY '{"api.dashboard_queue_health()","api.dashboard_matview_freshness()"}'::text[] LOOP
        IF NOT pg_catalog.has_function_privilege('app_ro', _fn, 'EXECUTE')
           OR NOT pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION '%: wrong EXECUTE grants', _fn USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    IF NOT pg_catalog.has_table_privilege('app_ro', 'api.dashboard_failed_jobs', 'SELECT')
       OR NOT pg_catalog.has_table_privilege('app_ro', 'api.dashboard_ingest_counters', 'SELECT') THEN
        RAISE EXCEPTION 'dashboard views not readable by app_ro' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
