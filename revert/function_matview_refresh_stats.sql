-- Revert skeldir:function_matview_refresh_stats from pg
BEGIN;

DROP FUNCTION api.matview_refresh_stats();

COMMIT;
