-- Deploy skeldir:function_task_take to pg
BEGIN;

/**
 * Moves a task queue's low-water mark (skeldir.queue_scan.start_id) and returns where a
 * read of the queue may start. A message id is drawn from the queue's sequence before its
 * row is committed, so "every id below the smallest one present" is not yet a safe mark:
 * a transaction that drew an id earlier may still commit it. So a mark is proved in three
 * steps, at most one per `settle` (they ride on the worker's reads; no process of its own):
 *   1. candidate: the last id drawn so far (pg_sequence_last_value), noted with the time;
 *   2. at least `settle` later (a transaction gets its xid microseconds after drawing an
 *      id, in the same INSERT), the candidate is promoted with a snapshot: every
 *      transaction that may have drawn an id up to it is in that snapshot;
 *   3. once every transaction of that snapshot has ended (a fresh snapshot lists none
 *      below its xmax as running), each of those ids is committed or gone, and the mark
 *      becomes the candidate + 1, or the smallest id still present if lower: in flight in
 *      another batch, waiting for a retry, or rolled back by a killed worker.
 * A transaction idle without an xid (a REPEATABLE READ snapshot holding the xmin horizon)
 * does not hold this up; one that holds an xid does, and then the read degrades to a scan
 * from the last mark, never to a lost message. Once a minute the whole queue is read for
 * its smallest id, a safety net that lowers the mark should a message ever have stalled
 * longer than `settle` between drawing its id and getting its xid. Once the mark is past
 * every id drawn, an idle worker's poll only reads (no lock, no write) until one is drawn.
 * Its min(msg_id) reads are pinned to the primary key's index (from the mark, they visit
 * only what was consumed since the last move). The row is claimed FOR UPDATE SKIP LOCKED:
 * a batch that finds another one moving the mark reads from the mark as it stands instead
 * of waiting. The move commits with the batch (a rolled-back batch rolls it back too).
 * A queue without a row starts at 0.
 */
CREATE FUNCTION skeldir._queue_scan_advance(queue text, settle interval DEFAULT '200 milliseconds')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = '' SET enable_seqscan = off AS $$
DECLARE
    _s     skeldir.queue_scan;
    _now   timestamptz := pg_catalog.clock_timestamp();
    _table text := pgmq.format_table_name(_queue_scan_advance.queue, 'q');
    _low   bigint;
    _last  bigint;  -- the last id drawn from the queue's sequence
BEGIN
    SELECT * INTO _s FROM skeldir.queue_scan AS s WHERE s.queue_name = _queue_scan_advance.queue;
    IF NOT FOUND THEN
        RETURN 0;
    ELSIF _s.candidate_at > _now - _queue_scan_advance.settle THEN
        RETURN _s.start_id;
    END IF;
    -- pgmq names a queue's sequence so (pgmq.metrics reads it by that name too).
    _last := coalesce(pg_catalog.pg_sequence_last_value(
        pg_catalog.format('pgmq.%I', _table || '_msg_id_seq')::regclass), 0);
    IF _s.start_id > _last AND _s.full_scan_at > _now - interval '1 minute' THEN
        RETURN _s.start_id;  -- caught up, no id drawn since: an idle worker's poll writes nothing
    END IF;
    -- SKIP LOCKED: another batch is moving the mark; read from the mark as it stands.
    SELECT * INTO _s FROM skeldir.queue_scan AS s WHERE s.queue_name = _queue_scan_advance.queue
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND OR _s.candidate_at > _now - _queue_scan_advance.settle THEN
        RETURN (SELECT s.start_id FROM skeldir.queue_scan AS s WHERE s.queue_name = _queue_scan_advance.queue);
    END IF;

    IF _s.full_scan_at <= _now - interval '1 minute' THEN
        EXECUTE pg_catalog.format('SELECT min(m.msg_id) FROM pgmq.%I AS m', _table) INTO _low;
        _s.start_id := LEAST(_s.start_id, coalesce(_low, _s.start_id));
        _s.full_scan_at := _now;
    END IF;
    -- Confirmed when no transaction of confirm_snapshot is still running. The running ones
    -- are the xip of a fresh snapshot, which leaves out this transaction's own xid: what this
    -- transaction inserted, it sees; if it rolls back, so does this move.
    IF _s.confirm_snapshot IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_snapshot_xip(pg_catalog.pg_current_snapshot()) AS x (xid)
                        WHERE x.xid < pg_catalog.pg_snapshot_xmax(_s.confirm_snapshot)) THEN
        -- A new statement, so a new snapshot: it sees every commit of the confirmed transactions.
        EXECUTE pg_catalog.format('SELECT min(m.msg_id) FROM pgmq.%I AS m WHERE m.msg_id >= $1', _table)
           INTO _low USING _s.start_id;
        _s.start_id := LEAST(_s.confirm_id + 1, coalesce(_low, _s.confirm_id + 1));
        _s.confirm_id := NULL;
        _s.confirm_snapshot := NULL;
    END IF;
    IF _s.confirm_snapshot IS NULL THEN
        _s.confirm_id := _s.candidate_id;
        _s.confirm_snapshot := pg_catalog.pg_current_snapshot();
    END IF;
    _s.candidate_id := _last;
    _s.candidate_at := _now;

    UPDATE skeldir.queue_scan AS s
       SET start_id = _s.start_id, candidate_id = _s.candidate_id, candidate_at = _s.candidate_at,
           confirm_id = _s.confirm_id, confirm_snapshot = _s.confirm_snapshot, full_scan_at = _s.full_scan_at
     WHERE s.queue_name = _queue_scan_advance.queue;
    RETURN _s.start_id;
END;
$$;
COMMENT ON FUNCTION skeldir._queue_scan_advance(text, interval) IS
    'Move a task queue''s low-water mark of msg_id when proved safe; return where its read may start. Raises nothing of its own.';

/**
 * Takes up to `qty` visible messages of a task queue for this transaction, in msg_id
 * order, from the queue's low-water mark on. FOR UPDATE SKIP LOCKED is the claim: a
 * concurrent worker skips them, and if this transaction ends without deleting them
 * (a killed worker) they are visible again at once. Unlike pgmq.read it writes nothing:
 * no visibility-timeout UPDATE, whose new version and index entries (vt is indexed, so
 * never HOT) a long transaction would keep for every message. The records carry the
 * delivery as pgmq.read would report it (read_ct + 1, last_read_at now); the runner
 * writes them on a retry (skeldir._task_run) or an archive (skeldir._task_archive).
 * The plan is pinned to the primary key's index range: a sequential scan or a sort would
 * visit every row version of the queue, which grows without bound under a held xmin.
 */
CREATE FUNCTION skeldir._task_take(queue text, qty integer) RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql VOLATILE
SET search_path = '' SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off AS $$
BEGIN
    RETURN QUERY EXECUTE pg_catalog.format(
        $q$SELECT m.msg_id, m.read_ct + 1, m.enqueued_at, pg_catalog.clock_timestamp(), m.vt, m.message, m.headers
             FROM pgmq.%I AS m
            WHERE m.msg_id >= $1 AND m.vt <= pg_catalog.clock_timestamp()
            ORDER BY m.msg_id
            LIMIT $2
              FOR UPDATE SKIP LOCKED$q$, pgmq.format_table_name(_task_take.queue, 'q'))
    USING skeldir._queue_scan_advance(_task_take.queue), _task_take.qty;
END;
$$;
COMMENT ON FUNCTION skeldir._task_take(text, integer) IS
    'Lock up to qty visible messages of a task queue from its low-water mark (SKIP LOCKED), writing nothing. Raises nothing of its own.';

/**
 * Archives the messages a batch ran successfully, as pgmq.archive does (deleted from the
 * queue, inserted into its archive table in one statement), recording the delivery that
 * skeldir._task_take did not write: read_ct + 1 and last_read_at. The plan is pinned to
 * primary-key probes: a sequential scan would compare every row version of the queue with
 * the whole batch, a cost of queue size times batch once a held xmin has grown the table.
 */
CREATE FUNCTION skeldir._task_archive(queue text, msg_ids bigint[], read_at timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' SET enable_seqscan = off AS $$
BEGIN
    EXECUTE pg_catalog.format(
        $q$WITH archived AS (
               DELETE FROM pgmq.%I AS m WHERE m.msg_id = ANY ($1)
               RETURNING m.msg_id, m.vt, m.read_ct, m.enqueued_at, m.message, m.headers)
           INSERT INTO pgmq.%I (msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers)
           SELECT a.msg_id, a.vt, a.read_ct + 1, a.enqueued_at, $2, a.message, a.headers FROM archived AS a$q$,
        pgmq.format_table_name(_task_archive.queue, 'q'), pgmq.format_table_name(_task_archive.queue, 'a'))
    USING _task_archive.msg_ids, _task_archive.read_at;
END;
$$;
COMMENT ON FUNCTION skeldir._task_archive(text, bigint[], timestamptz) IS
    'Archive a batch''s successes with their delivery (read_ct + 1, last_read_at). Raises nothing of its own.';

/**
 * Runs one message (taken by skeldir._task_take) in its own subtransaction under its
 * tenant's GUC. Returns 'succeeded' (the caller archives it) or, when the task raised, its
 * error and either 'retried' (hidden until now + base * 2^(attempt-1), the delivery
 * recorded: read_ct and last_read_at) or, with no retry left, 'failed' (a row in
 * worker_failed_jobs and the message deleted, atomically).
 */
CREATE FUNCTION skeldir._task_run(queue text, message pgmq.message_record, settings skeldir.settings,
    OUT outcome text, OUT error text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
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
        -- pgmq.set_vt, plus the delivery that skeldir._task_take did not write.
        EXECUTE pg_catalog.format('UPDATE pgmq.%I AS m SET vt = $1, read_ct = $2, last_read_at = $3 WHERE m.msg_id = $4',
                                  pgmq.format_table_name(_task_run.queue, 'q'))
        USING pg_catalog.clock_timestamp() + _s.task_backoff_base * (2 ^ (_m.read_ct - 1)),
              _m.read_ct, _m.last_read_at, _m.msg_id;
        outcome := 'retried';
    END IF;
END;
$$;
COMMENT ON FUNCTION skeldir._task_run(text, pgmq.message_record, skeldir.settings) IS
    'Run one message in a subtransaction: succeeded, or retried with backoff, or failed into worker_failed_jobs.';

/**
 * The poller's whole SQL side, one transaction per batch: take up to `batch` messages
 * (skeldir._task_take locks them FOR UPDATE SKIP LOCKED from the queue's low-water mark,
 * so concurrent workers never share one, and writes nothing to them until they end).
 * On the attribution queue the `allocate` tasks go first through skeldir._allocate_batch,
 * one set-based pass per tenant in its own subtransaction under the tenant's GUC; a pass
 * that raises is rolled back whole and its tenant's tasks run one by one below, so one bad
 * event still fails alone. Every other message runs through skeldir._task_run (its own
 * subtransaction: succeeded, retried or failed); the successes are archived in one
 * statement at the end (same transaction as the writes). A message run successfully thus
 * leaves one dead version in the queue table (its delete), where pgmq.read + archive left
 * two and a second entry in each index.
 * A worker killed mid-batch rolls all of it back: the messages are visible again at once
 * and no handler effect survives, so nothing is lost and nothing is applied twice.
 * Returns one row per message, in msg_id order (a set-based pass's messages share its time).
 * Runs as its owner: app_user may not touch pgmq or tables.
 * Raises 22023 for an unknown queue or a batch outside 1..1000.
 */
CREATE FUNCTION api.task_run_batch(queue text, batch integer DEFAULT 100)
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
    _k       integer := 1;      -- where the walk over the sorted _fast stands
    _tenant  uuid;
    _events  bigint[];
    _ids     bigint[];          -- the msg ids of _events, element by element
    _handled bigint[];
BEGIN
    IF task_run_batch.queue IS NULL OR task_run_batch.queue NOT IN ('attribution', 'maintenance', 'housekeeping') THEN
        RAISE EXCEPTION 'unknown queue %', task_run_batch.queue USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Queues run in SQL: attribution, maintenance, housekeeping.';
    END IF;
    IF task_run_batch.batch IS NULL OR task_run_batch.batch NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'batch must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    _msgs := ARRAY(SELECT r FROM skeldir._task_take(task_run_batch.queue, task_run_batch.batch) AS r
                    ORDER BY r.msg_id);
    IF pg_catalog.cardinality(_msgs) = 0 THEN
        RETURN;  -- nothing taken, nothing deferred: an idle worker's poll ends here
    END IF;
    SELECT * INTO _s FROM skeldir.settings;
    PERFORM pg_catalog.set_config('skeldir.matview_touch_deferred', 'on', true);

    IF task_run_batch.queue = 'attribution' THEN
        _t0 := pg_catalog.clock_timestamp();
        -- Only well-formed allocate messages: a bad tenant or event id fails alone below.
        FOR _tenant, _events, _ids IN
            SELECT (r.message ->> 'tenant_id')::uuid, pg_catalog.array_agg((r.message ->> 'event_id')::bigint),
                   pg_catalog.array_agg(r.msg_id)
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
                -- _handled holds distinct ids of _events: as many means all of them (the usual
                -- case). Otherwise a join: `= ANY (_handled)` per task would compare every task
                -- with every id, a cost of the batch's size squared.
                IF pg_catalog.cardinality(_handled) = pg_catalog.cardinality(_events) THEN
                    _fast := _fast || _ids;
                ELSE
                    _fast := _fast || ARRAY(SELECT u.msg_id FROM unnest(_ids, _events) AS u (msg_id, event_id)
                                              JOIN pg_catalog.unnest(_handled) AS h (event_id)
                                                ON h.event_id = u.event_id);
                END IF;
            EXCEPTION WHEN OTHERS THEN
                NULL;  -- rolled back whole: this tenant's tasks run one by one below, each failing alone
            END;
        END LOOP;
        _fast_ms := extract(epoch FROM pg_catalog.clock_timestamp() - _t0) * 1000
                    / GREATEST(pg_catalog.cardinality(_fast), 1);
        -- Sorted, so the loop below finds each message's place by walking it once, in step
        -- with _msgs (msg_id order), instead of searching all of it per message.
        _fast := ARRAY(SELECT f.id FROM pg_catalog.unnest(_fast) AS f (id) ORDER BY f.id);
    END IF;

    FOREACH _m IN ARRAY _msgs LOOP
        msg_id := _m.msg_id;
        task := coalesce(_m.message ->> 'task', '(none)');
        attempts := _m.read_ct;
        WHILE _fast[_k] < _m.msg_id LOOP
            _k := _k + 1;
        END LOOP;
        IF _fast[_k] = _m.msg_id THEN
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
        PERFORM skeldir._task_archive(task_run_batch.queue, _done, _msgs[1].last_read_at);
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
    PERFORM skeldir._matview_flush();
END;
$$;
COMMENT ON FUNCTION api.task_run_batch(text, integer) IS
    'Run up to `batch` tasks of a queue (allocate tasks set-based per tenant): archive, retry with backoff, or capture in worker_failed_jobs. Raises 22023.';
REVOKE ALL ON FUNCTION api.task_run_batch(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.task_run_batch(text, integer) TO app_rw;

COMMIT;
