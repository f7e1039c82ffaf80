-- Revert skeldir:view_dashboard_read from pg
BEGIN;

DROP FUNCTION api.dashboard_matview_freshness();
DROP FUNCTION api.dashboard_queue_health();
DROP VIEW api.dashboard_failed_jobs;
DROP VIEW api.dashboard_ingest_counters;

COMMIT;
