-- Read models kept by group (change read_model_upkeep): ingest writes no invalidation, the
-- worker's writes invalidate exactly their (tenant, day) groups, an upkeep recomputes those
-- groups only, and after every step the read models equal the full recomputation of
-- lib/read_model_oracle.sql row by row: new, back-dated, refunded, deleted (retention),
-- reconciliation moves, allocations that gave up, and the rebuild.
BEGIN;
SELECT plan(26);

\ir lib/read_model_oracle.sql
\ir lib/stripe.psql

-- Runs every queued task of a queue as app_user, the worker's role.
CREATE FUNCTION pg_temp.drain(queue text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    _n bigint := 0;
    _k bigint;
BEGIN
    SET LOCAL ROLE app_user;
    LOOP
        SELECT count(*) INTO _k FROM api.task_run_batch(queue, 100);
        EXIT WHEN _k = 0;
        _n := _n + _k;
    END LOOP;
    RESET ROLE;
    RETURN _n;
END;
$$;

-- One event of tenant t inserted as the ingest function would store it, and its allocate task.
CREATE FUNCTION pg_temp.event(t uuid, vid text, kind text, amount bigint, at timestamptz,
                              order_ref text DEFAULT NULL, payment_ref text DEFAULT NULL, source text DEFAULT 'google')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    _id bigint;
BEGIN
    INSERT INTO skeldir.attribution_events
           (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor, currency,
            occurred_at, utm_source, utm_medium, payload, route)
    VALUES (t, 'standard', kind, kind, vid, vid, order_ref, payment_ref, amount, 'USD', at, source, 'cpc', '{}', 't')
    RETURNING id INTO _id;
    PERFORM pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', t, 'event_id', _id));
    RETURN _id;
END;
$$;

-- Brings every dirty read model up to date, as the maintenance task does.
CREATE FUNCTION pg_temp.upkeep() RETURNS void LANGUAGE sql AS $$
    SELECT count(*) FROM skeldir.matview_refresh_dirty('test')
$$;

-- Shape ---------------------------------------------------------------------------------

SELECT has_table('skeldir', 'read_model_invalidations', 'the invalidation log exists');
SELECT is_empty($$
    SELECT t.tgname FROM pg_trigger AS t
     WHERE t.tgrelid = 'skeldir.attribution_events'::regclass AND NOT t.tgisinternal AND (t.tgtype & 4) <> 0
$$, 'no trigger fires when an event is inserted (the ingest path)');
SELECT has_index('skeldir', 'attribution_events', 'attribution_events_tenant_day_idx',
    'events are indexed by (tenant_id, UTC day): a group is one index range');

-- Ingest writes no summary row and no invalidation -------------------------------------

SELECT tenant_id AS t, endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Upkeep One') \gset
SELECT tenant_id AS u FROM api.tenant_create('Upkeep Two') \gset
SELECT generation AS daily_gen FROM skeldir.matview_state WHERE view_name = 'mv_daily_revenue_summary' \gset
CREATE TEMP TABLE delivered AS
SELECT * FROM pg_temp.stripe_deliver(:'token', :'secret', pg_temp.stripe_event('evt_upkeep_1'));
SELECT is((SELECT outcome FROM delivered), 'accepted', 'a signed delivery is accepted');
SELECT is_empty('SELECT * FROM skeldir.read_model_invalidations',
    'ingestion writes no invalidation');
SELECT is((SELECT generation FROM skeldir.matview_state WHERE view_name = 'mv_daily_revenue_summary'), :'daily_gen'::bigint,
    'ingestion does not touch the read models'' state rows');

-- History of two tenants, allocated and brought up to date ------------------------------

SELECT pg_temp.event(:'t', 'h' || i, 'payment', 1000 + i, date_trunc('day', now()) - (i % 5) * interval '1 day' - interval '1 hour',
                     'ref' || i, NULL, CASE WHEN i % 2 = 0 THEN 'google' END)
  FROM generate_series(1, 40) AS i;
SELECT pg_temp.event(:'t', 'o' || i, 'order', 1000 + i, date_trunc('day', now()) - (i % 5) * interval '1 day' - interval '2 hours', 'ref' || i)
  FROM generate_series(1, 30) AS i;
SELECT pg_temp.event(:'u', 'x' || i, 'payment', 500, now() - i * interval '1 hour')
  FROM generate_series(1, 10) AS i;
SELECT cmp_ok(pg_temp.drain('attribution'), '>=', 81::bigint, 'the worker allocates every event');
SELECT isnt_empty($$ SELECT * FROM skeldir.read_model_invalidations WHERE view_name = 'mv_daily_revenue_summary' $$,
    'the allocations invalidated their days of the daily summary');
SELECT is((SELECT sum(n) FROM skeldir.read_model_deltas WHERE view_name = 'mv_allocation_summary'),
          (SELECT count(*) FROM skeldir.allocations)::numeric,
    'and logged one +1 delta per allocation for the allocation summary');
SELECT pg_temp.upkeep();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after the upkeep every read model equals its full recomputation');
SELECT is_empty('SELECT * FROM skeldir.read_model_invalidations UNION ALL SELECT tenant_id, id, view_name, day, now() FROM skeldir.read_model_deltas',
    'and the invalidations and deltas it applied are gone');
SELECT ok((SELECT bool_and(l.outcome = 'refreshed' AND l.groups > 0 AND l.rows > 0 AND l.duration_ms >= 0)
             FROM skeldir.matview_refresh_log AS l
            WHERE l.trigger = 'test' AND l.view_name <> 'mv_realtime_revenue'),
    'each upkeep is logged with view, trigger, duration, rows, groups and outcome');

-- A redelivered allocate task writes nothing, so it invalidates nothing.
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', tenant_id, 'event_id', id))
  FROM skeldir.attribution_events WHERE vendor_event_id IN ('h1', 'o1');
SELECT pg_temp.drain('attribution');
SELECT ok(NOT EXISTS (SELECT FROM skeldir.read_model_invalidations) AND NOT EXISTS (SELECT FROM skeldir.read_model_deltas)
          AND NOT EXISTS (SELECT FROM skeldir.matview_state WHERE dirty),
    'a redelivered allocate task invalidates nothing and marks no read model dirty');

-- A back-dated event recomputes its own day only -----------------------------------------

CREATE TEMP TABLE before_rows AS SELECT tenant_id, day, currency, xmin::text AS x FROM skeldir.mv_daily_revenue_summary;
SELECT pg_temp.event(:'t', 'late', 'payment', 777, date_trunc('day', now()) - interval '3 days' + interval '5 minutes');
SELECT pg_temp.drain('attribution');
SELECT pg_temp.upkeep();
SELECT is((SELECT groups FROM skeldir.matview_refresh_log
            WHERE view_name = 'mv_daily_revenue_summary' ORDER BY id DESC LIMIT 1), 1::bigint,
    'a back-dated event makes one group of mv_daily_revenue_summary recompute');
SELECT is((SELECT count(*) FROM skeldir.mv_daily_revenue_summary AS m JOIN before_rows AS b USING (tenant_id, day, currency)
            WHERE m.xmin::text <> b.x), 1::bigint,
    'and no other row of the table is rewritten');
SELECT is_empty('SELECT * FROM read_model_mismatches', 'the read models equal their recomputation after a back-dated event');

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
SELECT pg_temp.upkeep();
UPDATE pgmq.q_attribution SET vt = now();
SELECT pg_temp.drain('attribution');
SELECT pg_temp.upkeep();
SELECT is_empty('SELECT * FROM read_model_mismatches',
    'after a refund and an allocation that gave up the read models equal their recomputation');

-- A reconciliation state change moves a reference between groups ------------------------

UPDATE skeldir.settings SET reconciliation_grace = '0 seconds';
SELECT cmp_ok(skeldir.reconciliation_reevaluate(), '>', 0, 'control: pending references move past their grace');
SELECT pg_temp.upkeep();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after reconciliation moves the read models equal their recomputation');

-- Retention: a tenant's events of a day deleted (allocations first) ----------------------

SELECT set_config('app.current_tenant_id', :'t', true) \g /dev/null
DELETE FROM skeldir.allocations WHERE tenant_id = :'t' AND occurred_at < date_trunc('day', now()) - interval '3 days';
DELETE FROM skeldir.attribution_events WHERE tenant_id = :'t' AND occurred_at < date_trunc('day', now()) - interval '3 days';
SELECT count(*) FROM skeldir._reconcile_refs(:'t', ARRAY(SELECT order_ref FROM skeldir.reconciliations WHERE tenant_id = :'t'));
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null
SELECT ok((SELECT dirty FROM skeldir.matview_state WHERE view_name = 'mv_daily_revenue_summary'),
    'a retention delete marks the read models dirty');
SELECT pg_temp.upkeep();
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

SELECT * FROM finish();
ROLLBACK;
