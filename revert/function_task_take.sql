-- Revert skeldir:function_task_take from pg
BEGIN;

-- Restore the runner and batch runner of function_task_run / function_task_allocate_batch:
-- pgmq.read (visibility-timeout UPDATE), pgmq.set_vt, pgmq.archive.
/**
 * Runs one message in its own subtransaction under its tenant's GUC. Returns 'succeeded'
 * (the caller archives it) or, when the task raised, its error and either 'retried' (set_vt
 * with exponential backoff: base * 2^(attempt-1)) or, with no retry left, 'failed' (a row in
 * worker_failed_jobs and the message deleted, atomically).
 */
CREATE OR REPLACE FUNCTION skeldir._task_run(queue text, message pgmq.message_record, settings skeldir.settings,
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
 * (pgmq.read takes them FOR UPDATE SKIP LOCKED, so concurrent workers never share one).
 * On the attribution queue the `allocate` tasks go first through skeldir._allocate_batch,
 * one set-based pass per tenant in its own subtransaction under the tenant's GUC; a pass
 * that raises is rolled back whole and its tenant's tasks run one by one below, so one bad
 * event still fails alone. Every other message runs through skeldir._task_run (its own
 * subtransaction: succeeded, retried or failed); the successes are archived in one call at
 * the end (same transaction as the writes).
 * A worker killed mid-batch rolls all of it back: the messages are visible again and no
 * handler effect survives, so nothing is lost and nothing is applied twice.
 * Returns one row per message, in msg_id order (a set-based pass's messages share its time).
 * Runs as its owner: app_user may not touch pgmq or tables.
 * Raises 22023 for an unknown queue or a batch outside 1..1000.
 */
CREATE OR REPLACE FUNCTION api.task_run_batch(queue text, batch integer DEFAULT 100)
RETURNS TABLE (msg_id bigint, task text, outcome text, attempts integer, duration_ms double precision, error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _s       skeldir.settings;
    _msgs    pgmq.message_record[];
    _m       pgmq.message_record;
    _r       record;
    _t0      timestamptz;
    _done    bigint[] := '{}';
    _fast    bigint[] := '{}';  -- msg ids the set-based passes took care of
    _fast_ms double precision := 0;
    _tenant  uuid;
    _events  bigint[];
    _handled bigint[];
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
    _msgs := ARRAY(SELECT r FROM pgmq.read(task_run_batch.queue, _s.task_visibility_timeout, task_run_batch.batch) AS r
                    ORDER BY r.msg_id);

    IF task_run_batch.queue = 'attribution' THEN
        _t0 := pg_catalog.clock_timestamp();
        -- Only well-formed allocate messages: a bad tenant or event id fails alone below.
        FOR _tenant, _events IN
            SELECT (r.message ->> 'tenant_id')::uuid, pg_catalog.array_agg((r.message ->> 'event_id')::bigint)
              FROM pg_catalog.unnest(_msgs) AS r
             WHERE r.message ->> 'task' = 'allocate'
               AND r.message ->> 'tenant_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
               AND r.message ->> 'event_id' ~ '^[0-9]{1,18}$'
             GROUP BY 1
             ORDER BY 1
        LOOP
            BEGIN
                PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
                _handled := skeldir._allocate_batch(_tenant, _events);
                _fast := _fast || ARRAY(
                    SELECT r.msg_id FROM pg_catalog.unnest(_msgs) AS r
                     WHERE r.message ->> 'task' = 'allocate' AND r.message ->> 'tenant_id' = _tenant::text
                       AND r.message ->> 'event_id' = ANY (_handled::text[]));
            EXCEPTION WHEN OTHERS THEN
                NULL;  -- rolled back whole: this tenant's tasks run one by one below, each failing alone
            END;
        END LOOP;
        _fast_ms := extract(epoch FROM pg_catalog.clock_timestamp() - _t0) * 1000
                    / GREATEST(pg_catalog.cardinality(_fast), 1);
    END IF;

    FOREACH _m IN ARRAY _msgs LOOP
        msg_id := _m.msg_id;
        task := coalesce(_m.message ->> 'task', '(none)');
        attempts := _m.read_ct;
        IF _m.msg_id = ANY (_fast) THEN
            outcome := 'succeeded';
            error := NULL;
            duration_ms := _fast_ms;
        ELSE
            _t0 := pg_catalog.clock_timestamp();
            _r := skeldir._task_run(task_run_batch.queue, _m, _s);
            outcome := _r.outcome;
            error := _r.error;
            duration_ms := extract(epoch FROM pg_catalog.clock_timestamp() - _t0) * 1000;
        END IF;
        IF outcome = 'succeeded' THEN
            _done := _done || _m.msg_id;
        END IF;
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
    'Run up to `batch` tasks of a queue (allocate tasks set-based per tenant): archive, retry with backoff, or capture in worker_failed_jobs. Raises 22023.';

DROP FUNCTION skeldir._task_archive(text, bigint[], timestamptz);
DROP FUNCTION skeldir._task_take(text, integer);
DROP FUNCTION skeldir._queue_scan_advance(text, interval);

COMMIT;
