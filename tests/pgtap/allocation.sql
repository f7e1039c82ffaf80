-- Allocation models: invariants over test vectors, determinism, refunds, idempotency.
BEGIN;
SELECT plan(26);

-- Shape
SELECT has_function('skeldir', '_allocation_split', ARRAY['bigint', 'text[]', 'bigint[]'], 'the largest-remainder split exists');
SELECT has_function('skeldir', '_allocation_model', ARRAY['bigint', 'text', 'text[]'], 'the model split exists');
SELECT has_function('skeldir', '_touchpoints', ARRAY['skeldir.attribution_events', 'text'], 'the touchpoint source exists');

-- Invariants over a grid of amounts x models x touch lists.
CREATE TEMP TABLE vectors AS
SELECT a.amount, m.model, t.touches
  FROM unnest('{0,1,2,3,5,7,10,99,100,101,999,1000,1001,12345,99999999999,-1,-2,-333,-1000,-1001}'::bigint[]) AS a (amount),
       unnest('{last_touch,first_touch,linear}'::text[]) AS m (model),
       (VALUES ('{paid}'::text[]), ('{paid,email}'), ('{paid,email,direct}'), ('{email,paid,email}'),
               ('{a,b,a,c,b,a,d}'), ('{social,social}'), ('{x1,x2,x3,x4,x5,x6,x7,x8,x9,x10,x11}')) AS t (touches);

SELECT is_empty($$
    SELECT v.* FROM vectors AS v
     WHERE (SELECT coalesce(sum(s.amount_minor), 0) FROM skeldir._allocation_model(v.amount, v.model, v.touches) AS s) <> v.amount
$$, 'every vector''s allocations sum exactly to its amount');

SELECT is_empty($$
    SELECT v.* FROM vectors AS v
     WHERE v.model = 'last_touch'
       AND (SELECT array_agg(s.channel) FROM skeldir._allocation_model(v.amount, v.model, v.touches) AS s)
           <> ARRAY[v.touches[cardinality(v.touches)]]
$$, 'last_touch gives everything to the last touch');

SELECT is_empty($$
    SELECT v.* FROM vectors AS v
     WHERE v.model = 'first_touch'
       AND (SELECT array_agg(s.channel) FROM skeldir._allocation_model(v.amount, v.model, v.touches) AS s)
           <> ARRAY[v.touches[1]]
$$, 'first_touch gives everything to the first touch');

SELECT is_empty($$
    SELECT v.amount, v.touches, s.channel, s.amount_minor
      FROM vectors AS v, skeldir._allocation_model(v.amount, v.model, v.touches) AS s
     WHERE v.model = 'linear'
       AND abs(s.amount_minor::numeric - v.amount::numeric
               * (SELECT count(*) FROM unnest(v.touches) AS u (c) WHERE u.c = s.channel) / cardinality(v.touches)) >= 1
$$, 'linear shares differ from the exact share by less than one minor unit');

SELECT is_empty($$
    SELECT v.* FROM vectors AS v, skeldir._allocation_model(v.amount, v.model, v.touches) AS s
     WHERE sign(s.amount_minor) * sign(v.amount) < 0
$$, 'no part has the opposite sign of the amount');

-- Known vectors (largest remainder, ties by channel name).
SELECT results_eq($$ SELECT channel, amount_minor FROM skeldir._allocation_model(1000, 'linear', '{paid,email,direct}') $$,
    $$ VALUES ('direct', 334::bigint), ('email', 333::bigint), ('paid', 333::bigint) $$,
    '1000 over three touches: 334/333/333, the extra unit to the first name in a tie');
SELECT results_eq($$ SELECT channel, amount_minor FROM skeldir._allocation_model(1000, 'linear', '{paid,email,paid}') $$,
    $$ VALUES ('email', 333::bigint), ('paid', 667::bigint) $$,
    'a channel touched twice gets two shares; the remainder goes to the largest fraction');
SELECT results_eq($$ SELECT channel, amount_minor FROM skeldir._allocation_split(-100, '{a,b}', '{1,2}') $$,
    $$ VALUES ('a', -33::bigint), ('b', -67::bigint) $$,
    'negative amounts split by magnitude and keep their sign');

-- Determinism: the same weights in any order give the same split.
SELECT results_eq(
    $$ SELECT channel, amount_minor FROM skeldir._allocation_split(1001, '{c,a,b,a}', '{2,1,3,1}') $$,
    $$ SELECT channel, amount_minor FROM skeldir._allocation_split(1001, '{a,b,a,c}', '{1,3,1,2}') $$,
    'the split does not depend on the order of its inputs');

SELECT throws_ok($$ SELECT * FROM skeldir._allocation_model(100, 'middle_touch', '{paid}') $$,
    '22023', NULL, 'an unknown model raises 22023');
SELECT throws_ok($$ SELECT * FROM skeldir._allocation_model(100, 'linear', '{}') $$,
    '22023', NULL, 'no touch at all raises 22023');

-- The task, end to end, as app_user: touches from the customer's history, refunds, idempotency.
SELECT tenant_id AS t1 FROM api.tenant_create('Alloc One') \gset
SELECT tenant_id AS t2 FROM api.tenant_create('Alloc Two') \gset
UPDATE skeldir.tenants SET allocation_model = 'linear' WHERE id = :'t1';
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor, currency,
        occurred_at, utm_source, utm_medium, referrer, customer_ref, payload, route)
VALUES (:'t1', 'shopify', 'orders/create', 'order', 'o-old', 'o-old', 'B0', NULL, 500, 'USD', now() - interval '60 days',
        'facebook', 'social', NULL, 'cust-1', '{}', 't'),
       (:'t1', 'shopify', 'orders/create', 'order', 'o-1', 'o-1', 'B1', NULL, 900, 'USD', now() - interval '3 days',
        'google', 'cpc', NULL, 'cust-1', '{}', 't'),
       (:'t1', 'stripe', 'payment_intent.succeeded', 'payment', 'p-1', 'p-1', 'B2', 'pi_2', 1001, 'USD', now() - interval '2 days',
        'newsletter', 'email', NULL, 'cust-1', '{}', 't'),
       (:'t1', 'stripe', 'charge.refunded', 'refund', 'r-1', 'r-1', 'B2', 'pi_2', -100, 'USD', now() - interval '1 day',
        NULL, NULL, NULL, 'cust-1', '{}', 't'),
       (:'t2', 'stripe', 'payment_intent.succeeded', 'payment', 'p-9', 'p-9', NULL, 'pi_9', 700, 'USD', now(),
        NULL, NULL, 'https://www.google.com/search?q=x', NULL, '{}', 't');
CREATE TEMP TABLE ev AS SELECT tenant_id, vendor_event_id, id FROM skeldir.attribution_events;
GRANT SELECT ON ev TO app_user;

SELECT is(skeldir._touchpoints(e, 'linear'), '{paid,email}'::text[],
          'touchpoints: the customer''s earlier events inside the lookback, then the event''s own touch')
  FROM skeldir.attribution_events AS e WHERE e.vendor_event_id = 'p-1';
SELECT is(skeldir._touchpoints(e, 'first_touch'), '{paid,email}'::text[], 'first_touch reads the earliest touch and the own one')
  FROM skeldir.attribution_events AS e WHERE e.vendor_event_id = 'p-1';
SELECT is(skeldir._touchpoints(e, 'last_touch'), '{email}'::text[], 'last_touch needs the own touch only')
  FROM skeldir.attribution_events AS e WHERE e.vendor_event_id = 'p-1';

-- The refund is queued first: it must wait (SK409, retried) for its payment's allocation.
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', tenant_id, 'event_id', id))
  FROM ev ORDER BY (vendor_event_id = 'r-1') DESC, id;

-- A batch of one: within a batch the orders and payments are allocated before refunds.
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT task, outcome FROM api.task_run_batch('attribution', 1) $$,
    $$ VALUES ('allocate', 'retried') $$, 'a refund whose payment is not allocated yet is retried');
SELECT results_eq($$ SELECT outcome, count(*) FROM api.task_run_batch('attribution', 100) GROUP BY 1 ORDER BY 1 $$,
    $$ VALUES ('succeeded', 4::bigint) $$, 'the other tasks succeed');
RESET ROLE;
UPDATE pgmq.q_attribution SET vt = now() - interval '1 second';
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome FROM api.task_run_batch('attribution', 100) $$,
    $$ VALUES ('succeeded') $$, 'on retry the refund is allocated');

SELECT api.tenant_set(:'t1');
SELECT results_eq($$
    SELECT ev.vendor_event_id, a.channel, a.amount_minor
      FROM api.allocations AS a JOIN ev ON ev.id = a.event_id
     ORDER BY 1, 2
$$, $$ VALUES ('o-1', 'paid', 900::bigint),
              ('o-old', 'social', 500::bigint),
              ('p-1', 'email', 501::bigint), ('p-1', 'paid', 500::bigint),
              ('r-1', 'email', -50::bigint), ('r-1', 'paid', -50::bigint) $$,
    'linear over the customer''s touches; the refund reverses in proportion to its payment''s allocation');
SELECT is_empty($$
    SELECT e.event_id FROM api.events AS e JOIN api.allocations AS a USING (event_id)
     GROUP BY e.event_id, e.amount_minor HAVING sum(a.amount_minor) <> e.amount_minor
$$, 'every allocated event of the tenant sums exactly to its amount');
SELECT is((SELECT count(*) FROM api.allocations), 6::bigint, 'tenant one sees only its own allocations');

-- Redelivery writes nothing.
RESET ROLE;
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', tenant_id, 'event_id', id)) FROM ev;
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, count(*) FROM api.task_run_batch('attribution', 100) GROUP BY 1 $$,
    $$ VALUES ('succeeded', 5::bigint) $$, 'redelivered tasks succeed');
SELECT api.tenant_set(:'t1');
SELECT is((SELECT sum(amount_minor) FROM api.allocations)::bigint, 2301::bigint, 'and change no allocation');

SELECT api.tenant_set(:'t2');
SELECT results_eq($$ SELECT channel, model, amount_minor FROM api.allocations $$,
    $$ VALUES ('organic_search', 'last_touch', 700::bigint) $$,
    'the default model is last_touch; a search-engine referrer is organic_search');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
