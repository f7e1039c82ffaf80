-- Health and metrics functions: shape, privileges, behaviour as app_user, failure modes.
BEGIN;
SELECT plan(27);

-- Shape -------------------------------------------------------------------------------
SELECT has_function('api', 'queue_metrics', '{}'::name[], 'api.queue_metrics() exists');
SELECT has_function('api', 'worker_probe_send', '{}'::name[], 'api.worker_probe_send() exists');
SELECT has_function('api', 'worker_probe_answer', '{}'::name[], 'api.worker_probe_answer() exists');
SELECT has_function('api', 'health_worker', ARRAY['bigint', 'interval'], 'api.health_worker(bigint, interval) exists');
SELECT has_function('api', 'matview_refresh_stats', '{}'::name[], 'api.matview_refresh_stats() exists');
SELECT is((SELECT count(*)::integer FROM pgmq.meta WHERE queue_name = 'probe'), 1, 'the probe queue exists');

-- Definer hygiene and grants -------------------------------------------------------------
SELECT is(
    (SELECT count(*)::integer FROM pg_catalog.pg_proc AS p
      WHERE p.oid = ANY (ARRAY['api.queue_metrics()', 'api.worker_probe_send()', 'api.worker_probe_answer()',
                               'api.health_worker(bigint, interval)', 'api.matview_refresh_stats()']::regprocedure[])
        AND p.prosecdef AND p.proconfig @> ARRAY['search_path=""']),
    5, 'all five are SECURITY DEFINER with an empty search_path');
SELECT ok(
    (SELECT bool_and(pg_catalog.has_function_privilege('app_user', f, 'EXECUTE')
                     AND NOT pg_catalog.has_function_privilege('public', f, 'EXECUTE'))
       FROM unnest(ARRAY['api.queue_metrics()', 'api.worker_probe_send()', 'api.worker_probe_answer()',
                         'api.health_worker(bigint, interval)', 'api.matview_refresh_stats()']) AS f),
    'app_user may execute them, PUBLIC may not');
SELECT ok(NOT pg_catalog.has_function_privilege('app_ro', 'api.worker_probe_send()', 'EXECUTE'),
    'the read-only role cannot send probes');

-- Behaviour as the real runtime role ------------------------------------------------------
SET LOCAL ROLE app_user;
SELECT throws_ok('SELECT count(*) FROM pgmq.q_probe', '42501', NULL, 'app_user cannot read the probe queue directly');
SELECT throws_ok('SELECT count(*) FROM skeldir.worker_heartbeats', '42501', NULL, 'app_user cannot read heartbeats directly');

SELECT is(
    (SELECT array_agg(queue_name ORDER BY queue_name) FROM api.queue_metrics()),
    ARRAY['attribution', 'housekeeping', 'llm', 'maintenance', 'probe'],
    'queue_metrics lists every pgmq queue');
SELECT is((SELECT depth FROM api.queue_metrics() WHERE queue_name = 'probe'), 0::bigint, 'the probe queue starts empty');

SELECT api.worker_probe_send() AS probe_id \gset
SELECT is((SELECT depth FROM api.queue_metrics() WHERE queue_name = 'probe'), 1::bigint,
    'queue_metrics reports the probe just sent (broker truth)');
SELECT ok((SELECT oldest_age_seconds >= 0 FROM api.queue_metrics() WHERE queue_name = 'probe'),
    'oldest message age is reported');
SELECT is((SELECT probe_answered FROM api.health_worker(:probe_id)), false,
    'an unanswered probe reads as unanswered');
SELECT is((SELECT workers FROM api.health_worker(:probe_id)), 0, 'no heartbeat: zero fresh workers');
SELECT is((SELECT heartbeat_age_seconds FROM api.health_worker(:probe_id)), NULL::double precision,
    'no heartbeat: age is NULL');

SELECT is(api.worker_probe_answer(), 1, 'a worker answers the one pending probe');
SELECT is((SELECT probe_answered FROM api.health_worker(:probe_id)), true,
    'the answered probe reads as answered');
SELECT is(api.worker_probe_answer(), 0, 'nothing left to answer');

SELECT api.worker_heartbeat('00000000-0000-0000-0000-0000000000a1', 1, 'h', '{attribution}', now()) AS hb1 \gset
SELECT api.worker_heartbeat('00000000-0000-0000-0000-0000000000a2', 2, 'h', '{attribution}', now()) AS hb2 \gset
RESET ROLE;
UPDATE skeldir.worker_heartbeats SET last_seen_at = now() - interval '1 minute'
 WHERE worker_id = '00000000-0000-0000-0000-0000000000a2';
SET LOCAL ROLE app_user;
SELECT is((SELECT workers FROM api.health_worker(0)), 1, 'only heartbeats within 15 s count as fresh');
SELECT is((SELECT workers FROM api.health_worker(0, interval '2 minutes')), 2, 'the freshness window is a parameter');

-- Failure modes ---------------------------------------------------------------------------
SELECT throws_ok('SELECT * FROM api.health_worker(0, interval ''0 seconds'')', '22023', NULL,
    'a non-positive freshness window is rejected with 22023');

-- Housekeeping of the probe queue: probes nobody took for a minute are dropped on the next send.
RESET ROLE;
UPDATE pgmq.q_probe SET enqueued_at = now() - interval '2 minutes';
INSERT INTO pgmq.q_probe (vt, message) VALUES (now(), '{}'), (now(), '{}');
UPDATE pgmq.q_probe SET enqueued_at = now() - interval '2 minutes';
SET LOCAL ROLE app_user;
SELECT api.worker_probe_send() AS fresh_probe \gset
SELECT is((SELECT depth FROM api.queue_metrics() WHERE queue_name = 'probe'), 1::bigint,
    'stale unanswered probes are dropped when a new one is sent');

-- Matview refresh stats are the refresh log, grouped ------------------------------------------
RESET ROLE;
SELECT skeldir.matview_refresh('mv_daily_revenue_summary', 'test') AS first_refresh \gset
SELECT skeldir.matview_refresh('mv_daily_revenue_summary', 'test') AS second_refresh \gset
SELECT count(*) AS logged_refreshes FROM skeldir.matview_refresh_log
 WHERE view_name = 'mv_daily_revenue_summary' AND outcome = 'refreshed' \gset
SET LOCAL ROLE app_user;
SELECT is(
    (SELECT refreshes FROM api.matview_refresh_stats()
      WHERE view_name = 'mv_daily_revenue_summary' AND outcome = 'refreshed'),
    :logged_refreshes::bigint,
    'refresh counts equal the refresh log');
SELECT ok((SELECT refreshed_at IS NOT NULL FROM api.matview_refresh_stats()
            WHERE view_name = 'mv_daily_revenue_summary' LIMIT 1),
    'the last refresh time is reported');

SELECT * FROM finish();
ROLLBACK;
