-- Housekeeping: retention of archives, dead letters, refresh log; stale heartbeats.
BEGIN;
SELECT plan(6);

SELECT has_function('skeldir', 'housekeeping_run', 'the housekeeping function exists');

SELECT tenant_id AS t1 FROM api.tenant_create('Keep One') \gset
SELECT tenant_id AS t2 FROM api.tenant_create('Keep Two') \gset
SELECT pgmq.send('maintenance', '{"task": "noop"}'::jsonb) FROM generate_series(1, 3);
SELECT pgmq.archive('maintenance', msg_id) FROM pgmq.q_maintenance;
UPDATE pgmq.a_maintenance SET archived_at = now() - interval '8 days' WHERE msg_id IN (SELECT min(msg_id) FROM pgmq.a_maintenance);
INSERT INTO skeldir.dead_letters (tenant_id, vendor, route, reason, body_sha256, body_bytes, received_at)
VALUES (:'t1', 'stripe', 'r', 'not_json', '\x00', 1, now() - interval '31 days'),
       (:'t1', 'stripe', 'r', 'not_json', '\x00', 1, now() - interval '29 days'),
       (:'t2', 'stripe', 'r', 'not_json', '\x00', 1, now() - interval '40 days');
INSERT INTO skeldir.worker_heartbeats (worker_id, pid, host, queues, started_at, last_seen_at)
VALUES (gen_random_uuid(), 1, 'h', '{attribution}', now() - interval '1 hour', now() - interval '11 minutes'),
       (gen_random_uuid(), 2, 'h', '{attribution}', now() - interval '1 hour', now());
INSERT INTO skeldir.matview_refresh_log (view_name, trigger, started_at, duration_ms, outcome)
VALUES ('mv_daily_revenue_summary', 'old', now() - interval '8 days', 1, 'refreshed'),
       ('mv_daily_revenue_summary', 'new', now(), 1, 'refreshed');

SELECT results_eq($$ SELECT * FROM skeldir.housekeeping_run() $$,
    $$ VALUES (1::bigint, 2::bigint, 1::bigint, 1::bigint) $$,
    'it deletes one old archive row, two old dead letters (of two tenants), one stale heartbeat, one old log row');
SELECT is((SELECT count(*) FROM pgmq.a_maintenance), 2::bigint, 'recent archive rows are kept');
SELECT results_eq($$ SELECT tenant_id FROM skeldir.dead_letters $$, ARRAY[:'t1'::uuid], 'the recent dead letter is kept');
SELECT results_eq($$ SELECT pid FROM skeldir.worker_heartbeats $$, ARRAY[2], 'the live heartbeat is kept');
SELECT results_eq($$ SELECT * FROM skeldir.housekeeping_run() $$, $$ VALUES (0::bigint, 0::bigint, 0::bigint, 0::bigint) $$,
    'a second run deletes nothing');

SELECT * FROM finish();
ROLLBACK;
