-- Deploy skeldir:function_matview_refresh_stats to pg
BEGIN;

/**
 * SQL truth for the worker exporter's matview metrics: per view and outcome, how many
 * refreshes the refresh log holds and their total time, plus each view's dirty flag and
 * last successful refresh. Every refresh counts, whoever triggered it (pg_cron pulse,
 * maintenance task, operator), because all of them go through skeldir.matview_refresh.
 * Views never refreshed appear once with outcome NULL and zero counts.
 * Called by the worker (app_user). Runs as its owner: app_user cannot read either table.
 */
CREATE FUNCTION api.matview_refresh_stats()
RETURNS TABLE (view_name text, outcome text, refreshes bigint, seconds_total double precision,
               dirty boolean, refreshed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT s.view_name, l.outcome, coalesce(l.refreshes, 0), coalesce(l.seconds_total, 0), s.dirty, s.refreshed_at
      FROM skeldir.matview_state AS s
      LEFT JOIN (SELECT r.view_name, r.outcome, pg_catalog.count(*) AS refreshes,
                        pg_catalog.sum(r.duration_ms) / 1000.0 AS seconds_total
                   FROM skeldir.matview_refresh_log AS r
                  GROUP BY r.view_name, r.outcome) AS l ON l.view_name = s.view_name
     ORDER BY s.view_name, l.outcome
$$;
COMMENT ON FUNCTION api.matview_refresh_stats() IS
    'Per matview and outcome: refresh count and total seconds; dirty flag, last refresh. Raises nothing of its own.';
REVOKE ALL ON FUNCTION api.matview_refresh_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.matview_refresh_stats() TO app_rw;

COMMIT;
