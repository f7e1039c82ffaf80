-- Revert skeldir:function_task_allocate_batch from pg
BEGIN;

-- Restore the batch runner of function_task_run: every message on its own.
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
CREATE OR REPLACE FUNCTION api.task_run_batch(queue text, batch integer DEFAULT 100)
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

DROP FUNCTION skeldir._allocate_batch(uuid, bigint[]);

COMMIT;
