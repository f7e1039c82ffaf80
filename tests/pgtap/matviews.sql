-- The five read models: shape, ownership, privileges; no write marks a view dirty; the refresh
-- machinery (kept for views marked by hand); tenant views.
BEGIN;
SELECT plan(27);

SELECT has_view('skeldir', 'mv_realtime_revenue', 'mv_realtime_revenue is a view (the 24-hour window over realtime_revenue)');
SELECT has_table('skeldir', v::name, v || ' is a table kept by deltas')
  FROM unnest('{mv_daily_revenue_summary,realtime_revenue,mv_channel_performance,mv_allocation_summary,mv_reconciliation_status}'::text[]) AS v;
SELECT hasnt_materialized_view('skeldir', 'mv_realtime_revenue', 'nothing is a materialized view any more');
SELECT is_empty($$
    SELECT c.relname FROM pg_class AS c
     WHERE c.oid = ANY (ARRAY['skeldir.mv_daily_revenue_summary', 'skeldir.realtime_revenue', 'skeldir.mv_channel_performance',
                              'skeldir.mv_allocation_summary', 'skeldir.mv_reconciliation_status']::regclass[])
       AND (NOT (c.relrowsecurity AND c.relforcerowsecurity)
            OR NOT EXISTS (SELECT FROM pg_index AS i WHERE i.indrelid = c.oid AND i.indisprimary)
            OR has_table_privilege('app_user', c.oid, 'SELECT') OR has_table_privilege('app_ro', c.oid, 'SELECT'))
       OR c.oid = 'skeldir.mv_realtime_revenue'::regclass
          AND (has_table_privilege('app_user', c.oid, 'SELECT') OR has_table_privilege('app_ro', c.oid, 'SELECT'))
$$, 'every read model kept by deltas: RLS forced, a primary key, no app role may select it');

SELECT is_empty($$
    SELECT c.relname FROM pg_class AS c
     WHERE c.relnamespace = 'skeldir'::regnamespace AND c.relkind = 'm'
       AND (pg_get_userbyid(c.relowner) <> 'matview_owner'
            OR NOT EXISTS (SELECT FROM pg_index AS i WHERE i.indrelid = c.oid AND i.indisunique AND i.indpred IS NULL)
            OR has_table_privilege('app_user', c.oid, 'SELECT') OR has_table_privilege('app_ro', c.oid, 'SELECT')
            OR NOT EXISTS (SELECT FROM skeldir.matview_state AS s WHERE s.view_name = c.relname))
$$, 'every matview: owned by matview_owner, a full unique index, no app role may select it, tracked in matview_state');

SELECT throws_ok($$ SELECT skeldir.matview_refresh('mv_nope', 'test') $$, '22023', NULL, 'an unknown view raises 22023');

-- Writes mark no view dirty and enqueue no refresh task: all five read models get their
-- deltas at commit.
SELECT tenant_id AS t1 FROM api.tenant_create('Views One') \gset
SELECT tenant_id AS t2 FROM api.tenant_create('Views Two') \gset
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor, currency, occurred_at,
        utm_source, utm_medium, payload, route)
VALUES (:'t1', 'shopify', 'orders/create', 'order', 'o-1', 'o-1', 'A', NULL, 1500, 'USD', now(), 'google', 'cpc', '{}', 't'),
       (:'t1', 'stripe', 'payment_intent.succeeded', 'payment', 'p-1', 'p-1', 'A', 'pi_1', 1500, 'USD', now(), 'google', 'cpc', '{}', 't'),
       (:'t2', 'stripe', 'payment_intent.succeeded', 'payment', 'p-2', 'p-2', NULL, 'pi_2', 99, 'EUR', now(), NULL, NULL, '{}', 't');
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', tenant_id, 'event_id', id))
  FROM skeldir.attribution_events;
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT count(*) FROM api.task_run_batch('attribution', 1) $$, $$ VALUES (1::bigint) $$, 'a first batch runs');
SELECT results_eq($$ SELECT count(*) FROM api.task_run_batch('attribution', 10) $$, $$ VALUES (2::bigint) $$, 'a second batch runs');
RESET ROLE;
SELECT is_empty($$ SELECT view_name FROM skeldir.matview_state WHERE dirty $$, 'after the writes no view is dirty');
SELECT is_empty($$ SELECT FROM pgmq.q_maintenance WHERE message ->> 'task' = 'refresh_matviews' $$,
    'and no refresh task waits: nothing has to be refreshed');
-- The machinery stays for a view marked by hand (an operator; a future materialized view).
SELECT skeldir._matview_touch('{mv_realtime_revenue}');
SELECT skeldir._matview_refresh_enqueue();
SELECT skeldir._matview_refresh_enqueue();
SELECT results_eq($$ SELECT count(*) FROM pgmq.q_maintenance WHERE message ->> 'task' = 'refresh_matviews' $$,
    $$ VALUES (1::bigint) $$, 'a view marked by hand gets one refresh_matviews task, not two');
SELECT ok((SELECT bool_and(m.vt >= now() + s.matview_refresh_delay)
             FROM pgmq.q_maintenance AS m, skeldir.settings AS s
            WHERE m.message ->> 'task' = 'refresh_matviews'),
    'the refresh task waits matview_refresh_delay, so a burst of batches shares one refresh');

-- The maintenance task refreshes and logs every dirty view.
UPDATE pgmq.q_maintenance SET vt = now() - interval '1 second';
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT task, outcome FROM api.task_run_batch('maintenance', 10) $$,
    $$ VALUES ('refresh_matviews', 'succeeded') $$, 'the worker runs the refresh task');
RESET ROLE;
SELECT is_empty($$ SELECT view_name FROM skeldir.matview_state WHERE dirty $$, 'after the refresh no view is dirty');
SELECT results_eq($$ SELECT count(DISTINCT view_name), bool_and(outcome = 'refreshed' AND trigger = 'maintenance' AND rows IS NOT NULL AND duration_ms >= 0)
                       FROM skeldir.matview_refresh_log $$,
    $$ VALUES (1::bigint, true) $$, 'the refresh is logged with view, trigger, duration, rows and outcome');

-- A refresh that got slow stretches the delay to stay within budget, but only a materialized
-- view's refresh is a cycle; the tables' upkeep and rebuilds (2 s each here) do not count,
-- and no materialized view is left.
UPDATE skeldir.settings SET matview_refresh_budget = 0.1;
INSERT INTO skeldir.matview_refresh_log (view_name, trigger, started_at, duration_ms, rows, outcome)
SELECT s.view_name, 'test', clock_timestamp(), 2000, 0, 'refreshed' FROM skeldir.matview_state AS s;
INSERT INTO skeldir.matview_refresh_log (view_name, trigger, started_at, duration_ms, rows, outcome)
SELECT s.view_name, 'test', clock_timestamp(), 60000, NULL, 'error' FROM skeldir.matview_state AS s;
SELECT skeldir._matview_refresh_enqueue();
SELECT ok((SELECT m.vt >= now() + s.matview_refresh_delay AND m.vt < now() + interval '5 seconds'
             FROM pgmq.q_maintenance AS m, skeldir.settings AS s WHERE m.message ->> 'task' = 'refresh_matviews' AND m.read_ct = 0),
    'logged 2 s runs of the tables'' upkeep do not stretch the delay (budget 0.1): they are no refresh cycle');

-- The pg_cron pulse leaves a waiting follow-up refresh to the worker, unless it is overdue.
UPDATE skeldir.matview_state SET dirty = true;
SELECT is((SELECT count(*) FROM skeldir.matview_pulse()), 0::bigint,
    'the pulse refreshes nothing while a follow-up refresh task waits for a worker');
UPDATE pgmq.q_maintenance SET vt = clock_timestamp() - interval '2 minutes' WHERE message ->> 'task' = 'refresh_matviews';
SELECT is((SELECT count(*) FROM skeldir.matview_pulse() WHERE outcome = 'refreshed'), 5::bigint,
    'a task overdue by more than a minute means no worker runs: the pulse refreshes every dirty view');
DELETE FROM pgmq.q_maintenance;

-- Tenant views show the tenant's rows only, once the writes committed (the suite is one
-- transaction: the deferred apply runs now).
SET CONSTRAINTS skeldir.read_model_deltas_apply IMMEDIATE;
SET LOCAL ROLE app_user;
SELECT api.tenant_set(:'t1');
SELECT results_eq($$ SELECT order_minor, payment_minor, event_count FROM api.daily_revenue $$,
    $$ VALUES (1500::bigint, 1500::bigint, 2::bigint) $$, 'daily revenue of the tenant');
SELECT results_eq($$ SELECT channel, order_minor, payment_minor, net_minor FROM api.channel_performance $$,
    $$ VALUES ('paid', 1500::bigint, 1500::bigint, 3000::bigint) $$, 'channel performance of the tenant');
SELECT results_eq($$ SELECT model, channel, event_count, allocated_minor FROM api.allocation_summary $$,
    $$ VALUES ('last_touch', 'paid', 2::bigint, 3000::bigint) $$, 'allocation summary of the tenant');
SELECT results_eq($$ SELECT status, ref_count FROM api.reconciliation_status $$,
    $$ VALUES ('matched', 1::bigint) $$, 'reconciliation status of the tenant');
SELECT api.tenant_set(:'t2');
SELECT results_eq($$ SELECT currency, payment_minor FROM api.realtime_revenue $$,
    $$ VALUES ('EUR', 99::bigint) $$, 'realtime revenue of the other tenant, and only its own');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
