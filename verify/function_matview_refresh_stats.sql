-- Verify skeldir:function_matview_refresh_stats on pg
SELECT view_name, outcome, refreshes, seconds_total, dirty, refreshed_at FROM api.matview_refresh_stats() WHERE FALSE;
SELECT 1 / (pg_catalog.has_function_privilege('app_user', 'api.matview_refresh_stats()', 'EXECUTE')
            AND NOT pg_catalog.has_function_privilege('public', 'api.matview_refresh_stats()', 'EXECUTE'))::integer;
