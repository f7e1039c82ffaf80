-- The worker's read of a task queue (issue 18, failure 6): skeldir._task_take locks messages
-- from the queue's low-water mark and writes nothing to them; skeldir._queue_scan_advance
-- moves the mark only past ids that can no longer appear. Everything here happens in one
-- transaction, so what this transaction consumed stays in the queue table as deleted
-- versions, as a held xmin keeps them: an empty queue's read must not visit them.
-- Two-session cases (a late commit below the mark, a killed batch, a real held snapshot):
-- tests/test_worker_xmin.py.
BEGIN;
SELECT plan(18);

\ir lib/buffers.psql

-- Moves a queue's mark (settle 0) until it reaches `want`, for at most `tries` x 10 ms: a step waits for
-- every transaction of the cluster that held an xid at the previous step to end, and the
-- cluster may be busy with other databases' work. Returns the mark reached.
CREATE FUNCTION pg_temp.advance_until(queue text, want bigint, tries integer DEFAULT 500) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    _mark bigint;
BEGIN
    FOR _i IN 1 .. tries LOOP
        _mark := skeldir._queue_scan_advance(queue, '0');
        EXIT WHEN _mark = want;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN _mark;
END;
$$;

-- Shape ----------------------------------------------------------------------------------

SELECT has_table('skeldir', 'queue_scan', 'the low-water marks have a table');
SELECT results_eq('SELECT queue_name, start_id FROM skeldir.queue_scan ORDER BY 1',
    $$ VALUES ('attribution', 0::bigint), ('housekeeping', 0), ('maintenance', 0) $$,
    'each task queue run in SQL has a mark, starting at 0');
SELECT ok(NOT has_table_privilege('app_user', 'skeldir.queue_scan', 'SELECT')
          AND NOT has_function_privilege('app_user', 'skeldir._task_take(text, integer)', 'EXECUTE')
          AND NOT has_function_privilege('app_user', 'skeldir._queue_scan_advance(text, interval)', 'EXECUTE'),
    'app_user reaches neither the marks nor the take, only api.task_run_batch');
SELECT ok((SELECT proconfig @> '{enable_seqscan=off,enable_bitmapscan=off,enable_sort=off}'
             FROM pg_proc WHERE oid = 'skeldir._task_take(text, integer)'::regprocedure),
    'the take''s plan is pinned to an index range: no sequential scan, bitmap scan or sort');
SELECT ok((SELECT proconfig @> '{enable_seqscan=off}'
             FROM pg_proc WHERE oid = 'skeldir._task_archive(text, bigint[], timestamptz)'::regprocedure),
    'the archive''s plan is pinned to key probes: no sequential scan comparing every row with the batch');

-- Behaviour: the take writes nothing; the delivery is recorded when the message ends ---------

UPDATE skeldir.settings SET task_backoff_base = interval '1 hour';
SELECT pgmq.send('attribution', '{"task": "noop"}') AS first \gset
SELECT pgmq.send('attribution', '{"task": "noop"}') AS second \gset
SELECT results_eq($$ SELECT msg_id, read_ct, last_read_at IS NOT NULL FROM skeldir._task_take('attribution', 10) $$,
    format($$ VALUES (%s::bigint, 1, true), (%s, 1, true) $$, :first, :second),
    'the take returns the delivery as pgmq.read would: in msg_id order, read_ct 1, last_read_at');
SELECT is((SELECT count(*) FROM pgmq.q_attribution WHERE read_ct = 0 AND last_read_at IS NULL), 2::bigint,
    '... and writes nothing to the queue (no visibility-timeout UPDATE)');

SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT msg_id, outcome, attempts FROM api.task_run_batch('attribution', 10) $$,
    format($$ VALUES (%s::bigint, 'succeeded', 1), (%s, 'succeeded', 1) $$, :first, :second),
    'the worker runs them, attempt 1');
RESET ROLE;
SELECT results_eq('SELECT msg_id, read_ct, last_read_at IS NOT NULL FROM pgmq.a_attribution ORDER BY 1',
    format($$ VALUES (%s::bigint, 1, true), (%s, 1, true) $$, :first, :second),
    'the archive records one delivery each, as pgmq.archive after pgmq.read did');

-- The low-water mark ---------------------------------------------------------------------

SELECT pgmq.send('attribution', '{"task": "poison_pill"}') AS pill \gset
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome FROM api.task_run_batch('attribution', 10) $$, ARRAY['retried'],
    'a failing task is retried (hidden for an hour)');
RESET ROLE;
SELECT is((SELECT read_ct FROM pgmq.q_attribution WHERE msg_id = :pill), 1, '... its delivery recorded');
SELECT count(*) FROM pgmq.send_batch('attribution', array_fill('{"task": "noop"}'::jsonb, ARRAY[2000])) \g /dev/null
SET LOCAL ROLE app_user;
SELECT is((SELECT count(*) FROM api.task_run_batch('attribution', 1000)) + (SELECT count(*) FROM api.task_run_batch('attribution', 1000)),
    2000::bigint, '2,000 tasks churn through the queue behind it');
RESET ROLE;
-- Three steps prove a mark: candidate, snapshot, every transaction of that snapshot ended.
SELECT is(pg_temp.advance_until('attribution', (SELECT last_value + 1 FROM pgmq.q_attribution_msg_id_seq), tries => 100),
    :pill::bigint, 'the mark stops at a message waiting for its retry');

DELETE FROM pgmq.q_attribution WHERE msg_id = :pill;
SELECT is(pg_temp.advance_until('attribution', (SELECT last_value + 1 FROM pgmq.q_attribution_msg_id_seq)),
    (SELECT last_value + 1 FROM pgmq.q_attribution_msg_id_seq),
    'with the queue empty it moves past the last id drawn');

SET LOCAL ROLE app_user;
SELECT cmp_ok(pg_temp.buffers($$ SELECT * FROM api.task_run_batch('attribution', 500) $$), '<=', 12::bigint,
    'an empty queue''s read touches a handful of buffers, though 2,000 consumed messages stay behind as dead versions');
RESET ROLE;
SELECT cmp_ok(pg_temp.buffers($$ SELECT * FROM pgmq.read('attribution', 30, 500) $$), '>', 40::bigint,
    '(pgmq.read, scanning from the first msg_id, visits them all)');

-- The safety net: once a minute the whole queue is read for its smallest id.
SELECT pgmq.send('attribution', '{"task": "noop"}') AS stray \gset
UPDATE skeldir.queue_scan
   SET start_id = :stray + 1, candidate_at = '-infinity', full_scan_at = '-infinity', confirm_id = NULL,
       confirm_snapshot = NULL
 WHERE queue_name = 'attribution';
SELECT is(skeldir._queue_scan_advance('attribution', '0'), :stray::bigint,
    'a message below the mark (it cannot happen, short of a stalled insert) lowers it within a minute');
SELECT is(pg_temp.advance_until('attribution', :stray + 1, tries => 30), :stray::bigint,
    '... and the mark never passes it');

SELECT * FROM finish();
ROLLBACK;
