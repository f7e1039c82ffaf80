-- Dashboard: freshness of the materialized views (global, no tenant needed): dirty since
-- when, last refresh and how it ended, and refreshes / errors over the last 24 hours.
SELECT f.view_name,
       f.dirty,
       f.dirty_since,
       f.refreshed_at,
       round(f.staleness_seconds::numeric, 1) AS staleness_seconds,
       f.last_outcome,
       f.last_trigger,
       round(f.last_duration_ms::numeric, 1) AS last_duration_ms,
       f.last_rows,
       f.refreshes_24h,
       f.errors_24h
  FROM api.dashboard_matview_freshness() AS f
 ORDER BY f.view_name;
