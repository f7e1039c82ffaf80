-- Deploy skeldir:function_task_run to pg
BEGIN;

/**
 * A uuid from text, or the nil uuid for anything that is not one (system tasks).
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it (every task the
 * worker runs) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir._uuid_or_nil(value text) RETURNS uuid
LANGUAGE sql IMMUTABLE BEGIN ATOMIC
    SELECT CASE WHEN value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN value::uuid ELSE '00000000-0000-0000-0000-000000000000'::uuid END;
END;
COMMENT ON FUNCTION skeldir._uuid_or_nil(text) IS 'Parses a uuid; nil uuid when the text is not one.';

/**
 * Makes sure one unread `refresh_matviews` task waits in the maintenance queue, delayed by
 * settings.matview_refresh_delay (0.5 s by default) so that a burst of batches shares one
 * refresh. That is what keeps the materialized view (mv_realtime_revenue; the four tables
 * get their deltas at each writer's commit) fresh between the minute-granular pg_cron
 * pulses. The delay is stretched to keep refreshing within settings.matview_refresh_budget
 * of the worker's time (default 0.5: a refresh that took 0.3 s is followed by at least
 * 0.3 s without), a guard should a refresh ever get slow: it reads the last day only.
 * Two callers racing may both enqueue: harmless, a refresh of a clean view is skipped.
 */
CREATE FUNCTION skeldir._matview_refresh_enqueue() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _delay double precision;
BEGIN
    IF NOT EXISTS (SELECT FROM pgmq.q_maintenance AS m
                    WHERE m.read_ct = 0 AND m.message ->> 'task' = 'refresh_matviews') THEN
        -- The last cycle: the latest successful refresh of each materialized view
        -- (matview_refresh_log_view_idx); a rebuild of the tables is no cycle.
        SELECT GREATEST(
                   pg_catalog.date_part('epoch', s.matview_refresh_delay),
                   (SELECT coalesce(pg_catalog.sum(l.duration_ms), 0) / 1000
                      FROM skeldir.matview_state AS v
                      JOIN pg_catalog.pg_class AS c
                        ON c.oid = pg_catalog.to_regclass('skeldir.' || pg_catalog.quote_ident(v.view_name)) AND c.relkind = 'm',
                      LATERAL (SELECT r.duration_ms
                                 FROM skeldir.matview_refresh_log AS r
                                WHERE r.view_name = v.view_name AND r.outcome = 'refreshed'
                                ORDER BY r.started_at DESC
                                LIMIT 1) AS l)
                   * ((1 - s.matview_refresh_budget) / s.matview_refresh_budget)::double precision)
          INTO _delay
          FROM skeldir.settings AS s;
        PERFORM pgmq.send('maintenance', '{"task": "refresh_matviews", "trigger": "maintenance"}'::jsonb,
            pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => _delay));
    END IF;
END;
$$;
COMMENT ON FUNCTION skeldir._matview_refresh_enqueue() IS
    'Enqueue one delayed refresh_matviews task unless an unread one waits; the delay keeps refreshes within matview_refresh_budget.';

/**
 * The pg_cron matview pulse (skeldir-matview-pulse, every minute): a backstop that
 * refreshes the dirty views, unless a follow-up refresh task waits in the maintenance queue
 * and is not overdue by more than a minute. Then a worker will run it within
 * settings.matview_refresh_budget, and a second refresh cycle from the pulse would only
 * take the CPU that budget keeps for ingestion. An overdue task means no worker drains the
 * queue: the pulse refreshes. Returns the views refreshed (none when skipped).
 */
CREATE FUNCTION skeldir.matview_pulse(OUT view_name text, OUT outcome text) RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    IF EXISTS (SELECT FROM pgmq.q_maintenance AS m
                WHERE m.read_ct = 0 AND m.message ->> 'task' = 'refresh_matviews'
                  AND m.vt > pg_catalog.clock_timestamp() - interval '1 minute') THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT r.view_name, r.outcome FROM skeldir.matview_refresh_dirty('cron') AS r;
END;
$$;
COMMENT ON FUNCTION skeldir.matview_pulse() IS
    'pg_cron pulse: refresh dirty matviews unless a follow-up refresh task is waiting and not overdue.';

/**
 * Ends a task batch: applies the matview dirty marks its handlers deferred (see
 * skeldir._matview_touch) and, when a view became dirty, enqueues the follow-up refresh.
 */
CREATE FUNCTION skeldir._matview_flush() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _views text[] := pg_catalog.string_to_array(nullif(pg_catalog.current_setting('skeldir.matview_dirty', true), ''), ',');
BEGIN
    PERFORM pg_catalog.set_config('skeldir.matview_touch_deferred', 'off', true);
    PERFORM pg_catalog.set_config('skeldir.matview_dirty', '', true);
    IF _views IS NULL THEN
        RETURN;
    END IF;
    PERFORM skeldir._matview_touch(_views);
    PERFORM skeldir._matview_refresh_enqueue();
END;
$$;
COMMENT ON FUNCTION skeldir._matview_flush() IS 'Apply deferred matview dirty marks; enqueue one refresh_matviews task.';

/** Upserts this worker's heartbeat. Runs as its owner: app_user cannot write the table. */
CREATE FUNCTION api.worker_heartbeat(worker_id uuid, pid integer, host text, queues text[], started_at timestamptz)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
    INSERT INTO skeldir.worker_heartbeats AS h (worker_id, pid, host, queues, started_at, last_seen_at)
    VALUES (worker_heartbeat.worker_id, worker_heartbeat.pid, worker_heartbeat.host,
            worker_heartbeat.queues, worker_heartbeat.started_at, pg_catalog.now())
    ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = pg_catalog.now(), queues = excluded.queues
$$;
COMMENT ON FUNCTION api.worker_heartbeat(uuid, integer, text, text[], timestamptz) IS 'Worker liveness upsert.';
REVOKE ALL ON FUNCTION api.worker_heartbeat(uuid, integer, text, text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.worker_heartbeat(uuid, integer, text, text[], timestamptz) TO app_rw;

/** Removes this worker's heartbeat on a clean exit. */
CREATE FUNCTION api.worker_stopped(worker_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
    DELETE FROM skeldir.worker_heartbeats AS h WHERE h.worker_id = worker_stopped.worker_id
$$;
COMMENT ON FUNCTION api.worker_stopped(uuid) IS 'Deletes a worker heartbeat on clean shutdown.';
REVOKE ALL ON FUNCTION api.worker_stopped(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.worker_stopped(uuid) TO app_rw;

COMMIT;
