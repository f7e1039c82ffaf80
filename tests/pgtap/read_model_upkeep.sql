-- Read models kept by their writers at commit (change read_model_upkeep): ingest writes no
-- delta, the worker's writes leave their deltas tagged with their transaction and nothing
-- else until it commits, the commit applies them (here: SET CONSTRAINTS ... IMMEDIATE, the
-- suite being one transaction) and leaves nothing pending, an event counts in the daily
-- summary once processed (allocated, or given up on), and after every step the read
-- models equal the full recomputation of lib/read_model_oracle.sql row by row: new,
-- back-dated, refunded, deleted (retention), updated, reconciliation moves, allocations
-- that gave up, a worker batch rolled back, and the rebuild.
BEGIN;
SELECT plan(37);

\ir lib/read_model_oracle.sql
\ir lib/stripe.psql
\ir lib/read_model_helpers.psql

-- Shape ---------------------------------------------------------------------------------

SELECT has_table('skeldir', 'read_model_deltas', 'the delta table exists');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'skeldir.read_model_deltas'::regclass), 'u',
    'it is unlogged: empty at every commit, so a crash loses nothing');
SELECT is_empty($$
    SELECT t.tgname FROM pg_trigger AS t
     WHERE t.tgrelid = 'skeldir.attribution_events'::regclass AND NOT t.tgisinternal AND (t.tgtype & 4) <> 0
$$, 'no trigger fires when an event is inserted (the ingest path)');
SELECT ok((SELECT tgdeferrable AND tginitdeferred FROM pg_trigger WHERE tgname = 'read_model_deltas_apply'),
    'the deltas are applied by a constraint trigger deferred to the commit');
SELECT is_definer('skeldir', '_read_model_apply', '{}'::name[], 'the apply runs as its owner (app_user commits deltas too)');

-- Ingest writes no summary row and no delta ---------------------------------------------

SELECT tenant_id AS t, endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Upkeep One') \gset
SELECT tenant_id AS u FROM api.tenant_create('Upkeep Two') \gset
SELECT generation AS daily_gen FROM skeldir.matview_state WHERE view_name = 'mv_daily_revenue_summary' \gset
CREATE TEMP TABLE delivered AS
SELECT * FROM pg_temp.stripe_deliver(:'token', :'secret', pg_temp.stripe_event('evt_upkeep_1'));
SELECT is((SELECT outcome FROM delivered), 'accepted', 'a signed delivery is accepted');
SELECT is_empty('SELECT * FROM skeldir.read_model_deltas', 'ingestion writes no delta');
SELECT is((SELECT generation FROM skeldir.matview_state WHERE view_name = 'mv_daily_revenue_summary'), :'daily_gen'::bigint,
    'ingestion does not touch the read models'' state rows');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM skeldir.mv_daily_revenue_summary', 'an event the worker has not processed counts nowhere yet');

-- History of two tenants, allocated, then committed ---------------------------------------

SELECT pg_temp.event(:'t', 'h' || i, 'payment', 1000 + i, date_trunc('day', now()) - (i % 5) * interval '1 day' - interval '1 hour',
                     'ref' || i, NULL, CASE WHEN i % 2 = 0 THEN 'google' END)
  FROM generate_series(1, 40) AS i;
SELECT pg_temp.event(:'t', 'o' || i, 'order', 1000 + i, date_trunc('day', now()) - (i % 5) * interval '1 day' - interval '2 hours', 'ref' || i)
  FROM generate_series(1, 30) AS i;
SELECT pg_temp.event(:'u', 'x' || i, 'payment', 500, now() - i * interval '1 hour')
  FROM generate_series(1, 10) AS i;
SELECT cmp_ok(pg_temp.drain('attribution'), '>=', 81::bigint, 'the worker allocates every event');
SELECT is((SELECT count(*) FROM skeldir.read_model_deltas WHERE xact <> pg_current_xact_id()), 0::bigint,
    'until the commit, the deltas wait tagged with the writing transaction');
SELECT is_empty('SELECT * FROM skeldir.mv_channel_performance', 'and no summary row is written before the commit');
SELECT is((SELECT sum(n) FROM skeldir.read_model_deltas WHERE view_name = 'mv_allocation_summary'),
          (SELECT count(*) FROM skeldir.allocations)::numeric,
    'one +1 delta per allocation for the allocation summary');
SELECT is((SELECT sum(n) FROM skeldir.read_model_deltas WHERE view_name = 'mv_daily_revenue_summary'),
          (SELECT count(*) FROM skeldir.attribution_events)::numeric,
    'one +1 delta per event processed for the daily summary');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM skeldir.read_model_deltas', 'the commit applies every delta and leaves none');
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after the commit every read model equals its full recomputation');
SELECT is_empty($$ SELECT view_name FROM skeldir.matview_state WHERE dirty OR generation > 0 $$,
    'no read model is ever marked dirty: nothing is refreshed');

-- A redelivered allocate task writes nothing, so it logs nothing.
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', tenant_id, 'event_id', id))
  FROM skeldir.attribution_events WHERE vendor_event_id IN ('h1', 'o1');
SELECT pg_temp.drain('attribution');
SELECT ok(NOT EXISTS (SELECT FROM skeldir.read_model_deltas) AND NOT EXISTS (SELECT FROM skeldir.matview_state WHERE dirty),
    'a redelivered allocate task logs no delta and marks nothing dirty');

-- A back-dated event changes its own group only ------------------------------------------

CREATE TEMP TABLE before_rows AS SELECT tenant_id, day, currency, ctid::text AS x FROM skeldir.mv_daily_revenue_summary;
SELECT pg_temp.event(:'t', 'late', 'payment', 777, date_trunc('day', now()) - interval '3 days' + interval '5 minutes');
SELECT pg_temp.drain('attribution');
SELECT pg_temp.commit_point();
SELECT is((SELECT count(*) FROM skeldir.mv_daily_revenue_summary AS m JOIN before_rows AS b USING (tenant_id, day, currency)
            WHERE m.ctid::text <> b.x), 1::bigint,
    'a back-dated event rewrites one row of mv_daily_revenue_summary, its own group');
SELECT is_empty('SELECT * FROM read_model_mismatches', 'the read models equal their recomputation after a back-dated event');

-- A worker batch rolled back (a crash) leaves nothing -------------------------------------

SELECT pg_temp.event(:'u', 'crashed', 'payment', 4321, now() - interval '10 minutes');
SAVEPOINT before_crash;
SELECT pg_temp.drain('attribution');
ROLLBACK TO SAVEPOINT before_crash;
SELECT is_empty('SELECT * FROM skeldir.read_model_deltas', 'a batch rolled back leaves no delta');
SELECT pg_temp.drain('attribution');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'its event counts once when a later batch processes it');

-- A refund, an allocation that gives up for good ------------------------------------------

SELECT pg_temp.event(:'t', 'refund1', 'refund', -500, now() - interval '1 hour', NULL, NULL);
UPDATE skeldir.settings SET task_max_retries = 0;
SELECT pg_temp.event(:'t', 'orphan', 'refund', -300, now() - interval '2 days', NULL, 'pi_nothing');
-- The orphan's original is not allocated yet (its task is delayed): the refund waits
-- (SK409) and, with no retry left, gives up; the original is allocated afterwards.
SELECT pg_temp.event(:'t', 'late-original', 'payment', 300, now() - interval '3 days', NULL, 'pi_nothing');
UPDATE pgmq.q_attribution SET vt = now() + interval '1 hour'
 WHERE message ->> 'event_id' = (SELECT id::text FROM skeldir.attribution_events WHERE vendor_event_id = 'late-original');
SELECT pg_temp.drain('attribution');
SELECT isnt_empty($$ SELECT * FROM skeldir.worker_failed_jobs WHERE task_name = 'allocate' $$,
    'control: an allocate task gave up');
SELECT pg_temp.commit_point();
SELECT is((SELECT refund_count FROM skeldir.mv_daily_revenue_summary
            WHERE tenant_id = :'t' AND day = ((now() - interval '2 days') AT TIME ZONE 'UTC')::date),
          (SELECT count(*) FROM skeldir.attribution_events
            WHERE tenant_id = :'t' AND kind = 'refund' AND (occurred_at AT TIME ZONE 'UTC')::date = ((now() - interval '2 days') AT TIME ZONE 'UTC')::date),
    'an event whose allocation gave up counts in the daily summary (it is processed)');
SELECT is((SELECT payment_count FROM skeldir.mv_daily_revenue_summary
            WHERE tenant_id = :'t' AND day = ((now() - interval '3 days') AT TIME ZONE 'UTC')::date),
          (SELECT count(*) - 1 FROM skeldir.attribution_events
            WHERE tenant_id = :'t' AND kind = 'payment' AND (occurred_at AT TIME ZONE 'UTC')::date = ((now() - interval '3 days') AT TIME ZONE 'UTC')::date),
    'an event whose task waits does not count yet');
UPDATE pgmq.q_attribution SET vt = now();
SELECT pg_temp.drain('attribution');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches',
    'once every task ran, after a refund and an allocation that gave up, the read models equal their recomputation');

-- A failed allocate task requeued and run: its event still counts once -------------------

UPDATE skeldir.settings SET task_max_retries = 3;
SELECT pgmq.send('attribution', f.payload) FROM skeldir.worker_failed_jobs AS f WHERE f.task_name = 'allocate';
SELECT pg_temp.drain('attribution');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'a given-up event allocated later still counts once');

-- A reconciliation state change moves a reference between groups ------------------------

UPDATE skeldir.settings SET reconciliation_grace = '0 seconds';
SELECT cmp_ok(skeldir.reconciliation_reevaluate(), '>', 0, 'control: pending references move past their grace');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after reconciliation moves the read models equal their recomputation');

-- A manual fix of a processed event; an unprocessed event deleted ---------------------------

SELECT set_config('app.current_tenant_id', :'u', true) \g /dev/null
UPDATE skeldir.attribution_events SET amount_minor = amount_minor + 1, occurred_at = occurred_at - interval '1 day'
 WHERE tenant_id = :'u' AND vendor_event_id = 'x1';
SELECT pg_temp.event(:'u', 'never-run', 'payment', 999, now() - interval '5 minutes');
DELETE FROM pgmq.q_attribution;
DELETE FROM skeldir.attribution_events WHERE tenant_id = :'u' AND vendor_event_id = 'never-run';
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches',
    'an update of a processed event moves it, a delete of an unprocessed one changes nothing');

-- Retention: a tenant's events of a day deleted (allocations first) ----------------------

SELECT set_config('app.current_tenant_id', :'t', true) \g /dev/null
DELETE FROM skeldir.allocations WHERE tenant_id = :'t' AND occurred_at < date_trunc('day', now()) - interval '3 days';
DELETE FROM skeldir.attribution_events WHERE tenant_id = :'t' AND occurred_at < date_trunc('day', now()) - interval '3 days';
SELECT count(*) FROM skeldir._reconcile_refs(:'t', ARRAY(SELECT order_ref FROM skeldir.reconciliations WHERE tenant_id = :'t'));
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null
SELECT isnt_empty('SELECT * FROM skeldir.read_model_deltas', 'a retention delete logs its deltas');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after a retention delete the read models equal their recomputation');
SELECT is_empty('SELECT * FROM skeldir.mv_daily_revenue_summary WHERE tenant_id = ' || quote_literal(:'t')
                || ' AND day < (now() AT TIME ZONE ''UTC'')::date - 3',
    'the deleted days have no row left');

-- The rebuild: from a damaged state back to the base tables -------------------------------

DELETE FROM skeldir.mv_channel_performance WHERE tenant_id = :'u';
UPDATE skeldir.mv_daily_revenue_summary SET order_minor = order_minor + 1 WHERE tenant_id = :'t';
INSERT INTO skeldir.mv_allocation_summary VALUES (:'u', '2001-01-01', 'linear', 'paid', 'USD', 1, 1);
SELECT isnt_empty('SELECT * FROM read_model_mismatches', 'control: the damage shows against the oracle');
SELECT results_eq($$ SELECT view_name, outcome FROM skeldir.read_models_rebuild() $$,
    $$ VALUES ('mv_allocation_summary', 'refreshed'), ('mv_channel_performance', 'refreshed'),
              ('mv_daily_revenue_summary', 'refreshed'), ('mv_realtime_revenue', 'refreshed'),
              ('mv_reconciliation_status', 'refreshed') $$,
    'the rebuild rebuilds every read model');
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after the rebuild every read model equals its recomputation');
SELECT pg_temp.event(:'t', 'after-rebuild', 'order', 1234, now() - interval '1 minute', 'ref-after');
SELECT pg_temp.drain('attribution');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'and the deltas of later writes land on the rebuilt rows');

SELECT * FROM finish();
ROLLBACK;
