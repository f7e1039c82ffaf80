-- Deploy skeldir:function_task_run to pg
BEGIN;

/** A uuid from text, or the nil uuid for anything that is not one (system tasks). */
CREATE FUNCTION skeldir._uuid_or_nil(value text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN value::uuid ELSE '00000000-0000-0000-0000-000000000000'::uuid END
$$;
COMMENT ON FUNCTION skeldir._uuid_or_nil(text) IS 'Parses a uuid; nil uuid when the text is not one.';

/**
 * Runs one task by name. Every handler is idempotent. Raises 22023 for an unknown task
 * and SK500 for poison_pill, which always fails so that the failure path is provable.
 */
CREATE FUNCTION skeldir._task_dispatch(queue text, message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    CASE message ->> 'task'
    WHEN 'allocate' THEN
        PERFORM skeldir._task_allocate(message);
    WHEN 'refresh_matviews' THEN
        PERFORM skeldir.matview_refresh_dirty(coalesce(message ->> 'trigger', 'task'));
    WHEN 'noop' THEN
        NULL;  -- does nothing: the baseline of scripts/bench_worker and pgmq round trips
    WHEN 'poison_pill' THEN
        RAISE EXCEPTION 'poison pill: this task always fails' USING ERRCODE = 'SK500';
    ELSE
        RAISE EXCEPTION 'unknown task %', coalesce(message ->> 'task', '(none)')
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('queue %s', queue);
    END CASE;
END;
$$;
COMMENT ON FUNCTION skeldir._task_dispatch(text, jsonb) IS
    'Task name -> SQL handler (allocate, refresh_matviews, noop, poison_pill). Raises 22023 unknown task, SK500 poison_pill.';

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
LANGUAGE plpgsql VOLATILE AS $$
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
LANGUAGE plpgsql VOLATILE AS $$
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
LANGUAGE plpgsql VOLATILE AS $$
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

/**
 * Runs one message in its own subtransaction under its tenant's GUC. Returns 'succeeded'
 * (the caller archives it) or, when the task raised, its error and either 'retried' (set_vt
 * with exponential backoff: base * 2^(attempt-1)) or, with no retry left, 'failed' (a row in
 * worker_failed_jobs and the message deleted, atomically).
 */
CREATE FUNCTION skeldir._task_run(queue text, message pgmq.message_record, settings skeldir.settings,
    OUT outcome text, OUT error text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _m pgmq.message_record := _task_run.message;
    _s skeldir.settings := _task_run.settings;
BEGIN
    PERFORM pg_catalog.set_config('app.current_tenant_id', coalesce(_m.message ->> 'tenant_id', ''), true);
    PERFORM skeldir._task_dispatch(_task_run.queue, _m.message);
    outcome := 'succeeded';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS error = MESSAGE_TEXT;
    IF _m.read_ct > _s.task_max_retries THEN
        PERFORM pg_catalog.set_config('app.current_tenant_id',
            skeldir._uuid_or_nil(_m.message ->> 'tenant_id')::text, true);
        INSERT INTO skeldir.worker_failed_jobs
               (tenant_id, task_id, task_name, queue, retry_count, error_message, payload)
        VALUES (skeldir._uuid_or_nil(_m.message ->> 'tenant_id'), _m.msg_id, coalesce(_m.message ->> 'task', '(none)'),
                _task_run.queue, _m.read_ct - 1, _task_run.error, _m.message)
        ON CONFLICT DO NOTHING;
        PERFORM pgmq.delete(_task_run.queue, _m.msg_id);
        outcome := 'failed';
    ELSE
        PERFORM pgmq.set_vt(_task_run.queue, _m.msg_id,
            pg_catalog.clock_timestamp() + _s.task_backoff_base * (2 ^ (_m.read_ct - 1)));
        outcome := 'retried';
    END IF;
END;
$$;
COMMENT ON FUNCTION skeldir._task_run(text, pgmq.message_record, skeldir.settings) IS
    'Run one message in a subtransaction: succeeded, or retried with backoff, or failed into worker_failed_jobs.';

/**
 * The poller's whole SQL side, one transaction per batch: read up to `batch` messages
 * (pgmq.read takes them FOR UPDATE SKIP LOCKED, so concurrent workers never share one),
 * run each through skeldir._task_run (its own subtransaction: succeeded, retried or
 * failed), and archive the successes in one call at the end (same transaction as the writes).
 * A worker killed mid-batch rolls all of it back: the messages are visible again and no
 * handler effect survives, so nothing is lost and nothing is applied twice.
 * Returns one row per message. Runs as its owner: app_user may not touch pgmq or tables.
 * Raises 22023 for an unknown queue or a batch outside 1..1000.
 */
CREATE FUNCTION api.task_run_batch(queue text, batch integer DEFAULT 100)
RETURNS TABLE (msg_id bigint, task text, outcome text, attempts integer, duration_ms double precision, error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _s    skeldir.settings;
    _m    pgmq.message_record;
    _r    record;
    _t0   timestamptz;
    _done bigint[] := '{}';
BEGIN
    IF task_run_batch.queue IS NULL OR task_run_batch.queue NOT IN ('attribution', 'maintenance', 'housekeeping') THEN
        RAISE EXCEPTION 'unknown queue %', task_run_batch.queue USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Queues run in SQL: attribution, maintenance, housekeeping.';
    END IF;
    IF task_run_batch.batch IS NULL OR task_run_batch.batch NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'batch must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO _s FROM skeldir.settings;
    PERFORM pg_catalog.set_config('skeldir.matview_touch_deferred', 'on', true);

    FOR _m IN SELECT * FROM pgmq.read(task_run_batch.queue, _s.task_visibility_timeout, task_run_batch.batch) LOOP
        _t0 := pg_catalog.clock_timestamp();
        msg_id := _m.msg_id;
        task := coalesce(_m.message ->> 'task', '(none)');
        attempts := _m.read_ct;
        _r := skeldir._task_run(task_run_batch.queue, _m, _s);
        outcome := _r.outcome;
        error := _r.error;
        IF outcome = 'succeeded' THEN
            _done := _done || _m.msg_id;
        END IF;
        duration_ms := extract(epoch FROM pg_catalog.clock_timestamp() - _t0) * 1000;
        RETURN NEXT;
    END LOOP;
    IF pg_catalog.cardinality(_done) > 0 THEN
        PERFORM pgmq.archive(task_run_batch.queue, _done);
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
    PERFORM skeldir._matview_flush();
END;
$$;
COMMENT ON FUNCTION api.task_run_batch(text, integer) IS
    'Run up to `batch` tasks of a queue: archive, retry with backoff, or capture in worker_failed_jobs. Raises 22023.';
REVOKE ALL ON FUNCTION api.task_run_batch(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.task_run_batch(text, integer) TO app_rw;

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
