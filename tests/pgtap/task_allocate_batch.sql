-- allocate tasks set-based per tenant: the same rows as one by one, failures still alone.
BEGIN;
SELECT plan(15);

SELECT has_function('skeldir', '_allocate_batch', ARRAY['uuid', 'bigint[]'], 'the set-based allocate pass exists');

-- This suite runs as a superuser, who bypasses RLS: every query names its tenant.
-- Twin tenants with the same events: A is allocated task by task (skeldir._task_allocate, the
-- reference), B through the batch runner's set-based pass.
SELECT tenant_id AS ta FROM api.tenant_create('Batch Ref') \gset
SELECT tenant_id AS tb FROM api.tenant_create('Batch Set') \gset
SELECT tenant_id AS tc FROM api.tenant_create('Batch Bad') \gset
SELECT tenant_id AS la FROM api.tenant_create('Batch Ref Linear') \gset
SELECT tenant_id AS lb FROM api.tenant_create('Batch Set Linear') \gset
UPDATE skeldir.tenants SET allocation_model = 'linear' WHERE id IN (:'la', :'lb');
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor, currency,
        occurred_at, utm_source, utm_medium, referrer, customer_ref, payload, route)
SELECT t.id, v.vendor, v.topic, v.kind, v.vid, v.vid, v.oref, v.pref, v.amount, v.cur, now() - v.age,
       v.src, v.med, v.ref, 'cust-1', '{}', 't'
  FROM skeldir.tenants AS t,
       (VALUES ('shopify', 'orders/create', 'order', 'o-1', 'A1', NULL, 1500, 'USD', interval '3 hours', 'google', 'cpc', NULL),
               ('stripe', 'payment_intent.succeeded', 'payment', 'p-1', 'A1', 'pi_1', 1500, 'USD', interval '2 hours', NULL, NULL, 'https://t.co/x'),
               ('shopify', 'orders/create', 'order', 'o-2', 'A2', NULL, 900, 'EUR', interval '2 hours', 'newsletter', 'email', NULL),
               ('stripe', 'payment_intent.succeeded', 'payment', 'p-2', 'A2', 'pi_2', 800, 'EUR', interval '1 hour', NULL, NULL, NULL),
               ('stripe', 'payment_intent.succeeded', 'payment', 'p-3', NULL, 'pi_3', 0, 'USD', interval '1 hour', 'x', NULL, NULL),
               ('stripe', 'charge.refunded', 'refund', 'r-1', 'A1', 'pi_1', -500, 'USD', interval '30 minutes', NULL, NULL, NULL))
           AS v (vendor, topic, kind, vid, oref, pref, amount, cur, age, src, med, ref)
 WHERE t.id IN (:'ta', :'tb', :'tc', :'la', :'lb');

SELECT set_config('app.current_tenant_id', :'ta', true);
SELECT skeldir._task_allocate(jsonb_build_object('tenant_id', :'ta'::uuid, 'event_id', e.id))
  FROM skeldir.attribution_events AS e WHERE e.tenant_id = :'ta' ORDER BY e.id;
SELECT set_config('app.current_tenant_id', :'la', true);
SELECT skeldir._task_allocate(jsonb_build_object('tenant_id', :'la'::uuid, 'event_id', e.id))
  FROM skeldir.attribution_events AS e WHERE e.tenant_id = :'la' ORDER BY e.id;
SELECT set_config('app.current_tenant_id', '', true);

-- The refund is queued first, behind nothing: the set-based pass allocates its payment before
-- the refund runs, so it needs no retry.
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', e.tenant_id, 'event_id', e.id))
  FROM skeldir.attribution_events AS e WHERE e.tenant_id IN (:'tb', :'lb') ORDER BY (e.kind = 'refund') DESC, e.id;
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, count(*) FROM api.task_run_batch('attribution', 100) GROUP BY 1 $$,
    $$ VALUES ('succeeded', 12::bigint) $$, 'all twelve tasks of two tenants succeed in one batch, the refunds included');
RESET ROLE;
SELECT is((SELECT count(*) FROM pgmq.a_attribution), 12::bigint, 'and all twelve are archived');

CREATE FUNCTION pg_temp.allocs(tenant uuid)
RETURNS TABLE (vendor_event_id text, channel text, model text, amount_minor bigint, currency char(3), occurred_at timestamptz)
LANGUAGE sql AS $$
    SELECT e.vendor_event_id, a.channel, a.model, a.amount_minor, a.currency, a.occurred_at
      FROM skeldir.allocations AS a JOIN skeldir.attribution_events AS e ON (e.tenant_id, e.id) = (a.tenant_id, a.event_id)
     WHERE a.tenant_id = tenant
$$;
CREATE FUNCTION pg_temp.recs(tenant uuid)
RETURNS TABLE (order_ref text, status text, order_minor bigint, order_currency char(3), payment_count integer,
               payment_minor bigint, payment_currency char(3), order_event text)
LANGUAGE sql AS $$
    SELECT r.order_ref, r.status, r.order_minor, r.order_currency, r.payment_count, r.payment_minor, r.payment_currency,
           (SELECT e.vendor_event_id FROM skeldir.attribution_events AS e WHERE e.tenant_id = r.tenant_id AND e.id = r.order_event_id)
      FROM skeldir.reconciliations AS r
     WHERE r.tenant_id = tenant
$$;
SELECT set_eq(format('SELECT * FROM pg_temp.allocs(%L)', :'tb'), format('SELECT * FROM pg_temp.allocs(%L)', :'ta'),
    'the set-based pass writes exactly the allocations task-by-task allocation writes');
SELECT set_eq(format('SELECT * FROM pg_temp.recs(%L)', :'tb'), format('SELECT * FROM pg_temp.recs(%L)', :'ta'),
    'and exactly the same reconciliations');
SELECT set_eq(format('SELECT * FROM pg_temp.allocs(%L)', :'lb'), format('SELECT * FROM pg_temp.allocs(%L)', :'la'),
    'linear over the customer''s touches: the same allocations as task by task');
SELECT is((SELECT count(*) FROM pg_temp.allocs(:'lb') WHERE model = 'linear'), 16::bigint,
    'a row per channel touched: 1 + 2 + 3 + 4 + 4, and the refund over its payment''s 2');
SELECT results_eq(format('SELECT order_ref, status, (SELECT count(*) FROM pg_temp.allocs(%L)) FROM pg_temp.recs(%L) ORDER BY 1', :'tb', :'tb'),
    $$ VALUES ('A1', 'matched', 6::bigint), ('A2', 'amount_mismatch', 6::bigint) $$,
    'six allocations; both order references reconciled, one matched and one amount mismatch');

SELECT results_eq($$ SELECT count(*), count(*) FILTER (WHERE a.kind = e.kind), count(DISTINCT a.kind)
                      FROM skeldir.allocations AS a
                      JOIN skeldir.attribution_events AS e ON (e.tenant_id, e.id) = (a.tenant_id, a.event_id) $$,
    $$ VALUES (44::bigint, 44::bigint, 3::bigint) $$,
    'every allocation, task by task or set-based, carries its event''s kind (orders, payments, refunds)');

-- Redelivered: handled as already allocated, nothing written twice.
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', e.tenant_id, 'event_id', e.id))
  FROM skeldir.attribution_events AS e WHERE e.tenant_id = :'tb' AND e.kind <> 'refund';
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, count(*) FROM api.task_run_batch('attribution', 100) GROUP BY 1 $$,
    $$ VALUES ('succeeded', 5::bigint) $$, 'redelivered tasks succeed');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.allocs(:'tb')), 6::bigint, 'and add no allocation');

-- The same payment queued twice beside a refund of the tenant: the pass handles the payment
-- (its id once), the refund runs on its own; each task gets its own outcome, the payment's
-- two with the pass's shared time, and nothing is allocated twice.
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', e.tenant_id, 'event_id', e.id))
  FROM skeldir.attribution_events AS e, generate_series(1, 2)
 WHERE e.tenant_id = :'tb' AND e.vendor_event_id = 'p-1';
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', e.tenant_id, 'event_id', e.id))
  FROM skeldir.attribution_events AS e WHERE e.tenant_id = :'tb' AND e.kind = 'refund' LIMIT 1;
SET LOCAL ROLE app_user;
CREATE TEMP TABLE twice ON COMMIT DROP AS SELECT * FROM api.task_run_batch('attribution', 100);
RESET ROLE;
SELECT results_eq($$ SELECT outcome, count(*), count(DISTINCT duration_ms) FROM twice GROUP BY 1 $$,
    $$ VALUES ('succeeded', 3::bigint, 2::bigint) $$,
    'a task queued twice and a refund beside it: three successes, the twins sharing the pass''s time');
SELECT is((SELECT count(*) FROM pg_temp.allocs(:'tb')), 6::bigint, 'and still no allocation added');

-- One event whose allocation raises: its tenant's pass is rolled back and its tasks run one
-- by one, so only that task is retried; a malformed message fails alone as well.
CREATE FUNCTION pg_temp.refuse_p2() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM skeldir.attribution_events AS e
                WHERE e.tenant_id = NEW.tenant_id AND e.id = NEW.event_id AND e.vendor_event_id = 'p-2') THEN
        RAISE EXCEPTION 'refused for the test' USING ERRCODE = 'SK500';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER refuse_p2 BEFORE INSERT ON skeldir.allocations FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_p2();
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', e.tenant_id, 'event_id', e.id))
  FROM skeldir.attribution_events AS e WHERE e.tenant_id = :'tc' AND e.kind <> 'refund';
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', 'not-a-uuid', 'event_id', 1));
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, count(*) FROM api.task_run_batch('attribution', 100) GROUP BY 1 ORDER BY 1 $$,
    $$ VALUES ('retried', 2::bigint), ('succeeded', 4::bigint) $$,
    'the refused event and the malformed message are retried; the tenant''s other tasks succeed');
RESET ROLE;
SELECT results_eq(format('SELECT vendor_event_id FROM pg_temp.allocs(%L) ORDER BY 1', :'tc'),
    $$ VALUES ('o-1'), ('o-2'), ('p-1'), ('p-3') $$, 'everything but the refused event is allocated');

SELECT * FROM finish();
ROLLBACK;
