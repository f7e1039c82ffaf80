-- The task pipeline's SQL side (SPEC §6): api.task_run_batch runs queued tasks as the
-- poller does (as app_user), allocates events exactly, is idempotent on redelivery,
-- retries failures with exponential backoff and captures them after the retry limit in
-- skeldir.worker_failed_jobs, under RLS. "Time passes" is simulated by moving a message's
-- visibility timestamp; everything happens in this one transaction and is rolled back.
BEGIN;
SELECT plan(42);

\ir lib/stripe.psql

CREATE TEMP TABLE runs (run integer, msg_id bigint, task text, outcome text, attempts integer, error text);
GRANT ALL ON runs TO app_user;

-- One poller pass over the attribution queue, as app_user; rows kept under the run number.
CREATE FUNCTION pg_temp.run(n integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO pg_temp.runs SELECT n, b.msg_id, b.task, b.outcome, b.attempts, b.error
      FROM api.task_run_batch('attribution', 100) AS b
$$;

-- Makes every queued attribution message visible now, as if its backoff had elapsed.
CREATE FUNCTION pg_temp.time_passes() RETURNS void LANGUAGE sql AS $$
    UPDATE pgmq.q_attribution SET vt = clock_timestamp() - interval '1 second'
$$;

-- Shape ------------------------------------------------------------------------------------

SELECT has_function('api', 'task_run_batch', ARRAY['text', 'integer'], 'api.task_run_batch(queue, batch) exists');
SELECT is_definer('api', 'task_run_batch', ARRAY['text', 'integer'],
    'api.task_run_batch runs as its owner (app_user may not touch pgmq or the tables)');
SELECT ok(has_function_privilege('app_user', 'api.task_run_batch(text, integer)', 'EXECUTE'),
    'app_user may call api.task_run_batch');
SELECT is((SELECT task_max_retries FROM skeldir.settings), 3, 'the retry limit defaults to 3');
SELECT has_table('pgmq', 'q_attribution', 'the attribution queue exists');

-- Fixtures: two tenants, two accepted events of A, a poison pill for A, a task for B whose
-- event does not exist. The backoff base is one hour so that a retried message stays hidden.

SELECT tenant_id, endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Alpha Store') \gset a_
SELECT tenant_id FROM api.tenant_create('Beta Store') \gset b_
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null
SELECT (response ->> 'event_id')::bigint AS paid
  FROM pg_temp.stripe_deliver(:'a_token', :'a_secret', pg_temp.stripe_event('evt_paid')) \gset e_
SELECT (response ->> 'event_id')::bigint AS direct
  FROM pg_temp.stripe_deliver(:'a_token', :'a_secret',
       pg_temp.stripe_event('evt_direct', obj => '{"amount_received": 999, "metadata": {}}')) \gset e_
SELECT pgmq.send('attribution', jsonb_build_object('task', 'poison_pill', 'tenant_id', :'a_tenant_id')) AS poison \gset m_
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', :'b_tenant_id', 'event_id', -1)) AS missing \gset m_
UPDATE skeldir.settings SET task_backoff_base = interval '1 hour';
UPDATE skeldir.matview_state SET dirty = false WHERE view_name = 'mv_daily_revenue_summary';

-- Behaviour: one pass allocates, a failure does not undo its siblings ------------------------

SET LOCAL ROLE app_user;
SELECT pg_temp.run(1);
RESET ROLE;

SELECT results_eq('SELECT task, outcome, attempts FROM runs WHERE run = 1 ORDER BY msg_id',
    $$VALUES ('allocate', 'succeeded', 1), ('allocate', 'succeeded', 1), ('poison_pill', 'retried', 1),
             ('allocate', 'retried', 1)$$,
    'first pass as app_user: both events allocated, the poison pill and the missing event retried');
SELECT results_eq(
    format('SELECT event_id, channel, model, amount_minor FROM skeldir.allocations WHERE tenant_id = %L ORDER BY event_id',
           :'a_tenant_id'),
    format($$VALUES (%s::bigint, 'paid', 'last_touch', 2500::bigint), (%s::bigint, 'direct', 'last_touch', 999::bigint)$$,
           :e_paid, :e_direct),
    'last touch: utm google/cpc is paid, no attribution at all is direct, each for the whole amount');
SELECT is_empty($$SELECT e.id FROM skeldir.attribution_events AS e
                    LEFT JOIN skeldir.allocations AS a ON (a.tenant_id, a.event_id) = (e.tenant_id, e.id)
                   GROUP BY e.tenant_id, e.id, e.amount_minor
                  HAVING coalesce(sum(a.amount_minor), 0) <> e.amount_minor$$,
    'for every event the allocations sum exactly to its amount');
SELECT is((SELECT error FROM runs WHERE run = 1 AND msg_id = :m_poison), 'poison pill: this task always fails',
    'the poison pill''s error is reported');
SELECT matches((SELECT error FROM runs WHERE run = 1 AND msg_id = :m_missing), '^event -1 of tenant .* not found$',
    'a task whose event does not exist fails with a clear error, it is not dropped');
SELECT set_eq('SELECT msg_id FROM pgmq.a_attribution', $$SELECT msg_id FROM runs WHERE run = 1 AND outcome = 'succeeded'$$,
    'succeeded messages are archived');
SELECT set_eq('SELECT msg_id FROM pgmq.q_attribution', ARRAY[:m_poison::bigint, :m_missing],
    'retried messages stay in the queue');
SELECT is_empty($$ SELECT view_name FROM skeldir.matview_state WHERE dirty $$,
    'an allocation marks no view dirty (every read model takes its deltas at commit)');
SELECT is(current_setting('app.current_tenant_id', true), '', 'the pass leaves no tenant GUC behind');

-- Backoff: base * 2^(attempt - 1) -------------------------------------------------------------

SELECT ok((SELECT bool_and(vt BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes')
             FROM pgmq.q_attribution),
    'after the first failure a message is hidden for base * 2^0 = 1 hour');
SET LOCAL ROLE app_user;
SELECT pg_temp.run(2);
RESET ROLE;
SELECT is_empty('SELECT * FROM runs WHERE run = 2', 'a pass during the backoff runs nothing');

SELECT pg_temp.time_passes();
SET LOCAL ROLE app_user;
SELECT pg_temp.run(3);
RESET ROLE;
SELECT results_eq('SELECT outcome, attempts FROM runs WHERE run = 3 ORDER BY msg_id',
    $$VALUES ('retried', 2), ('retried', 2)$$, 'second attempt: retried again');
SELECT ok((SELECT bool_and(vt BETWEEN now() + interval '119 minutes' AND now() + interval '121 minutes')
             FROM pgmq.q_attribution),
    'after the second failure a message is hidden for base * 2^1 = 2 hours');

-- With a zero base, retries are visible at once ------------------------------------------------

UPDATE skeldir.settings SET task_backoff_base = interval '0';
SELECT pg_temp.time_passes();
SET LOCAL ROLE app_user;
SELECT pg_temp.run(4);
SELECT pg_temp.run(5);
SELECT pg_temp.run(6);
RESET ROLE;
SELECT results_eq('SELECT run, outcome, attempts FROM runs WHERE run >= 4 ORDER BY run, msg_id',
    $$VALUES (4, 'retried', 3), (4, 'retried', 3), (5, 'failed', 4), (5, 'failed', 4)$$,
    'third attempt retried, fourth attempt (first try + 3 retries) captured as failed; then nothing is left');

-- Failure capture ------------------------------------------------------------------------------

SELECT results_eq(
    'SELECT tenant_id, task_id, task_name, queue, retry_count, status, error_message FROM skeldir.worker_failed_jobs ORDER BY task_id',
    format($$VALUES (%L::uuid, %s::bigint, 'poison_pill', 'attribution', 3, 'failed', 'poison pill: this task always fails'),
                    (%L::uuid, %s::bigint, 'allocate', 'attribution', 3, 'failed', 'event -1 of tenant %s not found')$$,
           :'a_tenant_id', :m_poison, :'b_tenant_id', :m_missing, :'b_tenant_id'),
    'each exhausted task is one worker_failed_jobs row under its tenant with retry_count = 3');
SELECT is((SELECT payload FROM skeldir.worker_failed_jobs WHERE task_id = :m_poison),
    jsonb_build_object('task', 'poison_pill', 'tenant_id', :'a_tenant_id'), 'the captured job keeps its payload');
SELECT is_empty('SELECT * FROM pgmq.q_attribution', 'a captured message has left the queue');
SELECT is_empty(format('SELECT * FROM pgmq.a_attribution WHERE msg_id IN (%s, %s)', :m_poison, :m_missing),
    '... and was not archived as if it had succeeded');

-- The captured job under RLS: visible only under its tenant's GUC. app_user has no view on
-- failed jobs yet, so this reads the table as its owner, which FORCEd RLS binds as well.

SET LOCAL ROLE migration_owner;
SELECT api.tenant_set(:'a_tenant_id') \g /dev/null
SELECT results_eq('SELECT task_name FROM skeldir.worker_failed_jobs', ARRAY['poison_pill'],
    'under tenant A''s GUC only A''s captured job is visible');
SELECT api.tenant_set(:'b_tenant_id') \g /dev/null
SELECT results_eq('SELECT task_name FROM skeldir.worker_failed_jobs', ARRAY['allocate'],
    'under tenant B''s GUC only B''s captured job is visible');
SELECT api.tenant_set(gen_random_uuid()) \g /dev/null
SELECT is_empty('SELECT * FROM skeldir.worker_failed_jobs', 'under another tenant''s GUC no captured job is visible');
RESET app.current_tenant_id;
SELECT is_empty('SELECT * FROM skeldir.worker_failed_jobs', 'with no GUC no captured job is visible');
RESET ROLE;
SET LOCAL ROLE app_user;
SELECT throws_ok('SELECT * FROM skeldir.worker_failed_jobs', '42501', NULL,
    'app_user cannot read skeldir.worker_failed_jobs directly');
RESET ROLE;

-- Idempotency: a redelivered task changes nothing ----------------------------------------------

SELECT array_agg(a ORDER BY event_id) AS before FROM skeldir.allocations AS a \gset alloc_
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', :'a_tenant_id', 'event_id', :e_paid))
    AS redelivered \gset m_
SET LOCAL ROLE app_user;
SELECT pg_temp.run(7);
RESET ROLE;
SELECT results_eq('SELECT outcome FROM runs WHERE run = 7', ARRAY['succeeded'], 'a redelivered allocate task succeeds');
SELECT is((SELECT array_agg(a ORDER BY event_id) FROM skeldir.allocations AS a)::text, :'alloc_before',
    '... and leaves the allocations exactly as they were (no second row, same amounts, same allocated_at)');
SELECT is_empty('SELECT * FROM pgmq.q_attribution', '... and is archived');

-- Heartbeats -----------------------------------------------------------------------------------

SET LOCAL ROLE app_user;
SELECT lives_ok($$SELECT api.worker_heartbeat('00000000-0000-0000-0000-0000000000aa', 4242, 'host-a',
                                               '{attribution}', now())$$,
    'as app_user: a worker writes its heartbeat');
RESET ROLE;
SELECT results_eq($$SELECT pid, host, queues FROM skeldir.worker_heartbeats$$,
    $$VALUES (4242, 'host-a', '{attribution}'::text[])$$, '... one row per worker');
SET LOCAL ROLE app_user;
SELECT lives_ok($$SELECT api.worker_stopped('00000000-0000-0000-0000-0000000000aa')$$,
    'as app_user: a worker removes its heartbeat on a clean exit');
RESET ROLE;
SELECT is_empty('SELECT * FROM skeldir.worker_heartbeats', '... and the row is gone');

-- Failure modes: bad arguments are errors with a SQLSTATE -------------------------------------

SET LOCAL ROLE app_user;
SELECT throws_ok($$SELECT * FROM api.task_run_batch('nope')$$, '22023', NULL, 'an unknown queue raises 22023');
SELECT throws_ok($$SELECT * FROM api.task_run_batch('llm')$$, '22023', NULL,
    'the llm queue is not run in SQL: 22023');
SELECT throws_ok($$SELECT * FROM api.task_run_batch('attribution', 0)$$, '22023', NULL, 'a batch of 0 raises 22023');
SELECT throws_ok($$SELECT * FROM api.task_run_batch('attribution', 1001)$$, '22023', NULL,
    'a batch above 1000 raises 22023');
SELECT throws_ok($$SELECT * FROM api.task_run_batch(NULL)$$, '22023', NULL, 'a NULL queue raises 22023');
RESET ROLE;

SELECT pgmq.send('attribution', '{"task": "no_such_task"}') AS unknown \gset m_
UPDATE skeldir.settings SET task_max_retries = 0;
SET LOCAL ROLE app_user;
SELECT pg_temp.run(8);
RESET ROLE;
SELECT results_eq('SELECT task, outcome FROM runs WHERE run = 8', $$VALUES ('no_such_task', 'failed')$$,
    'an unknown task name fails (with task_max_retries = 0, at once)');
SELECT is((SELECT tenant_id FROM skeldir.worker_failed_jobs WHERE task_id = :m_unknown),
    '00000000-0000-0000-0000-000000000000'::uuid, '... and a task without a tenant is filed under the nil uuid');

SELECT * FROM finish();
ROLLBACK;
