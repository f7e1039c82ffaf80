-- The task runner: backoff, failed-job capture after exactly 3 retries, RLS on failed jobs.
BEGIN;
SELECT plan(14);

SELECT has_table('skeldir', 'worker_failed_jobs', 'the failed-job table exists');
SELECT is((SELECT task_max_retries FROM skeldir.settings), 3, 'the retry limit defaults to 3');

SELECT tenant_id AS t1 FROM api.tenant_create('Runner One') \gset
SELECT tenant_id AS t2 FROM api.tenant_create('Runner Two') \gset
SELECT pgmq.send('attribution', jsonb_build_object('task', 'poison_pill', 'tenant_id', :'t1'::uuid)) AS pill \gset
SELECT pgmq.send('attribution', '{"task": "noop"}'::jsonb) AS noop \gset

SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT task, outcome, attempts FROM api.task_run_batch('attribution', 10) ORDER BY msg_id $$,
    $$ VALUES ('poison_pill', 'retried', 1), ('noop', 'succeeded', 1) $$,
    'first attempt: the pill is retried, the noop succeeds');
RESET ROLE;
SELECT ok((SELECT vt - last_read_at >= interval '1 second' AND vt - last_read_at < interval '2 seconds'
             FROM pgmq.q_attribution WHERE msg_id = :pill),
          'the first retry waits the backoff base (1 s)');
SELECT results_eq($$ SELECT msg_id FROM pgmq.a_attribution $$, ARRAY[:noop::bigint], 'the success is archived');

UPDATE pgmq.q_attribution SET vt = now() - interval '1 second';
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, attempts FROM api.task_run_batch('attribution', 10) $$,
    $$ VALUES ('retried', 2) $$, 'second attempt: retried');
RESET ROLE;
SELECT ok((SELECT vt - last_read_at >= interval '2 seconds' AND vt - last_read_at < interval '4 seconds'
             FROM pgmq.q_attribution WHERE msg_id = :pill),
          'the backoff doubles (2 s)');

UPDATE pgmq.q_attribution SET vt = now() - interval '1 second';
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, attempts FROM api.task_run_batch('attribution', 10) $$,
    $$ VALUES ('retried', 3) $$, 'third attempt: retried');
RESET ROLE;
UPDATE pgmq.q_attribution SET vt = now() - interval '1 second';
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, attempts, error FROM api.task_run_batch('attribution', 10) $$,
    $$ VALUES ('failed', 4, 'poison pill: this task always fails') $$, 'fourth attempt (third retry): captured');
SELECT api.tenant_set(:'t1');
SELECT results_eq($$ SELECT task_id, task_name, queue, retry_count, status, error_message FROM api.failed_jobs $$,
    format($$ VALUES (%s::bigint, 'poison_pill', 'attribution', 3, 'failed', 'poison pill: this task always fails') $$, :pill),
    'the failed job has retry_count 3 and is visible to its tenant');
SELECT api.tenant_set(:'t2');
SELECT is_empty($$ SELECT * FROM api.failed_jobs $$, 'another tenant does not see it');
RESET ROLE;
SELECT is_empty(format($$ SELECT msg_id FROM pgmq.q_attribution WHERE msg_id = %s
                          UNION ALL SELECT msg_id FROM pgmq.a_attribution WHERE msg_id = %s $$, :pill, :pill),
    'the captured message left the queue and was not archived');

SET LOCAL ROLE app_user;
SELECT throws_ok($$ SELECT * FROM api.task_run_batch('nope', 10) $$, '22023', NULL, 'an unknown queue raises 22023');
SELECT throws_ok($$ SELECT * FROM api.task_run_batch('attribution', 0) $$, '22023', NULL, 'a batch below 1 raises 22023');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
