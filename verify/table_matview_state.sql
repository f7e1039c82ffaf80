-- Verify skeldir:table_matview_state on pg
SELECT view_name, dirty, generation, dirtied_at, refreshed_at FROM skeldir.matview_state WHERE false;
SELECT id, view_name, trigger, started_at, duration_ms, rows, groups, outcome, error
  FROM skeldir.matview_refresh_log
 WHERE false;
SELECT 1 / pg_catalog.has_table_privilege('matview_owner', 'skeldir.attribution_events', 'SELECT')::integer;
