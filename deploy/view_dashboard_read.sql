-- Deploy skeldir:view_dashboard_read to pg
BEGIN;

-- What the operator dashboards of sql/dashboards/ read beyond the other api views.
-- Tenant data goes through security_barrier views filtered on the tenant GUC; global
-- broker and matview state through definer functions, because it lives in pgmq
-- and private tables no app role may read.

/** The current tenant's daily counts of deliveries that stored no row (unauthorized, ignored). */
CREATE VIEW api.dashboard_ingest_counters WITH (security_barrier) AS
SELECT c.vendor, c.day, c.outcome, c.count
  FROM skeldir.ingest_counters AS c
 WHERE c.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.dashboard_ingest_counters IS 'Daily unauthorized/ignored delivery counts of the current tenant.';

/** The current tenant's failed jobs, without their payloads. */
CREATE VIEW api.dashboard_failed_jobs WITH (security_barrier) AS
SELECT f.queue, f.task_id, f.task_name, f.retry_count, f.status, f.error_message, f.failed_at
  FROM skeldir.worker_failed_jobs AS f
 WHERE f.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.dashboard_failed_jobs IS 'Tasks of the current tenant that exhausted their retries.';

GRANT SELECT ON api.dashboard_ingest_counters, api.dashboard_failed_jobs TO app_rw, app_ro;

/**
 * Broker truth for every pgmq queue: messages in the queue, how many are visible now, the
 * age of the oldest and newest, and the total ever sent. Not tenant data: counts only.
 * runs as its owner because app roles may not read pgmq tables.
 */
CREATE FUNCTION api.dashboard_queue_health(
    OUT queue_name text, OUT depth bigint, OUT visible bigint, OUT oldest_age_seconds integer,
    OUT newest_age_seconds integer, OUT total_sent bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT m.queue_name, m.queue_length, m.queue_visible_length, m.oldest_msg_age_sec, m.newest_msg_age_sec,
           m.total_messages
      FROM pgmq.metrics_all() AS m
$$;
COMMENT ON FUNCTION api.dashboard_queue_health() IS 'Depth, visible, oldest/newest age and total sent per pgmq queue. Raises nothing.';
REVOKE ALL ON FUNCTION api.dashboard_queue_health() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.dashboard_queue_health() TO app_rw, app_ro;

/**
 * Freshness of every materialized view: dirty flag and since when, last refresh and its
 * outcome, duration and rows, refreshes and errors over the last 24 hours. Not tenant
 * data. Runs as its owner because app roles may not read matview_state or its log.
 */
CREATE FUNCTION api.dashboard_matview_freshness(
    OUT view_name text, OUT dirty boolean, OUT dirty_since timestamptz, OUT refreshed_at timestamptz,
    OUT staleness_seconds double precision, OUT last_outcome text, OUT last_trigger text,
    OUT last_duration_ms double precision, OUT last_rows bigint, OUT refreshes_24h bigint, OUT errors_24h bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT s.view_name, s.dirty, CASE WHEN s.dirty THEN s.dirtied_at END, s.refreshed_at,
           CASE WHEN s.dirty THEN extract(epoch FROM pg_catalog.now() - s.dirtied_at)::double precision ELSE 0 END,
           l.outcome, l.trigger, l.duration_ms, l.rows,
           (SELECT pg_catalog.count(*) FROM skeldir.matview_refresh_log AS d
             WHERE d.view_name = s.view_name AND d.started_at > pg_catalog.now() - interval '24 hours'),
           (SELECT pg_catalog.count(*) FROM skeldir.matview_refresh_log AS d
             WHERE d.view_name = s.view_name AND d.started_at > pg_catalog.now() - interval '24 hours'
               AND d.outcome = 'error')
      FROM skeldir.matview_state AS s
      LEFT JOIN LATERAL (
           SELECT r.outcome, r.trigger, r.duration_ms, r.rows
             FROM skeldir.matview_refresh_log AS r
            WHERE r.view_name = s.view_name
            ORDER BY r.started_at DESC
            LIMIT 1) AS l ON true
$$;
COMMENT ON FUNCTION api.dashboard_matview_freshness() IS 'Dirty state, last refresh and 24 h refresh counts per matview. Raises nothing.';
REVOKE ALL ON FUNCTION api.dashboard_matview_freshness() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.dashboard_matview_freshness() TO app_rw, app_ro;

COMMIT;
