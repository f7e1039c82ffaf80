-- Reconciliation: the state table, per-reference evaluation, grace-period re-evaluation, RLS.
BEGIN;
SELECT plan(17);

SELECT has_table('skeldir', 'reconciliations', 'the reconciliation table exists');
SELECT has_function('skeldir', 'reconciliation_reevaluate', 'the grace-period re-evaluation exists');

-- The state table, row by row.
SELECT results_eq($$
    SELECT skeldir._reconciliation_status(o, om, oc, p, pm, pc, '2026-01-01 00:00Z', at, '1 hour')
      FROM (VALUES
        (true,  100::bigint, 'USD', true,  100::bigint, 'USD', '2026-01-01 00:00Z'::timestamptz),
        (true,  100, 'USD', true,  99,   'USD', '2026-01-01 00:00Z'),
        (true,  100, 'USD', true,  100,  'EUR', '2026-01-01 00:00Z'),
        (true,  100, 'USD', true,  NULL, NULL,  '2026-01-01 00:00Z'),
        (true,  100, 'USD', false, NULL, NULL,  '2026-01-01 00:59Z'),
        (true,  100, 'USD', false, NULL, NULL,  '2026-01-01 01:00Z'),
        (false, NULL, NULL, true,  100,  'USD', '2026-01-01 00:59Z'),
        (false, NULL, NULL, true,  100,  'USD', '2026-01-01 01:00Z')
      ) AS v (o, om, oc, p, pm, pc, at)
$$, $$ VALUES ('matched'), ('amount_mismatch'), ('amount_mismatch'), ('amount_mismatch'),
              ('pending'), ('missing_payment'), ('pending'), ('missing_order') $$,
    'state table: matched, amount or currency mismatch, pending inside the grace period, missing after it');
SELECT throws_ok($$ SELECT skeldir._reconciliation_status(false, NULL, NULL, false, NULL, NULL, now(), now(), '1 hour') $$,
    '22023', NULL, 'nothing to reconcile raises 22023');

-- Events of two tenants, reconciled by the attribution task (orders from shopify /
-- woocommerce, payments from stripe / paypal; what counts is the canonical kind).
SELECT tenant_id AS t1 FROM api.tenant_create('Recon One') \gset
SELECT tenant_id AS t2 FROM api.tenant_create('Recon Two') \gset
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor, currency, occurred_at, payload, route)
VALUES (:'t1', 'shopify', 'orders/create', 'order', 'o-m', 'o-m', 'M', NULL, 2500, 'USD', now(), '{}', 't'),
       (:'t1', 'stripe', 'payment_intent.succeeded', 'payment', 'p-m', 'p-m', 'M', 'pi_m', 2500, 'USD', now(), '{}', 't'),
       (:'t1', 'woocommerce', 'order.created', 'order', 'o-x', 'o-x', 'X', NULL, 3000, 'EUR', now(), '{}', 't'),
       (:'t1', 'paypal', 'PAYMENT.SALE.COMPLETED', 'payment', 'p-x', 'p-x', 'X', 'sale_x', 2999, 'EUR', now(), '{}', 't'),
       (:'t1', 'shopify', 'orders/create', 'order', 'o-np', 'o-np', 'NP', NULL, 1200, 'USD', now(), '{}', 't'),
       (:'t1', 'stripe', 'payment_intent.succeeded', 'payment', 'p-no', 'p-no', 'NO', 'pi_no', 800, 'USD', now(), '{}', 't'),
       (:'t1', 'stripe', 'payment_intent.succeeded', 'payment', 'p-s1', 'p-s1', 'S', 'pi_s1', 400, 'USD', now(), '{}', 't'),
       (:'t1', 'stripe', 'payment_intent.succeeded', 'payment', 'p-s2', 'p-s2', 'S', 'pi_s2', 600, 'USD', now(), '{}', 't'),
       (:'t1', 'shopify', 'orders/create', 'order', 'o-s', 'o-s', 'S', NULL, 1000, 'USD', now(), '{}', 't'),
       (:'t2', 'shopify', 'orders/create', 'order', 'o-m', 'o-m', 'M', NULL, 10, 'USD', now(), '{}', 't');
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', tenant_id, 'event_id', id))
  FROM skeldir.attribution_events ORDER BY id;
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome, count(*) FROM api.task_run_batch('attribution', 100) GROUP BY 1 $$,
    $$ VALUES ('succeeded', 10::bigint) $$, 'the attribution tasks reconcile as they allocate');
SELECT api.tenant_set(:'t1');
SELECT results_eq($$ SELECT order_ref, status, order_minor, payment_minor, payment_count FROM api.reconciliations ORDER BY 1 $$,
    $$ VALUES ('M', 'matched', 2500::bigint, 2500::bigint, 1),
              ('NO', 'pending', NULL, 800, 1),
              ('NP', 'pending', 1200, NULL, 0),
              ('S', 'matched', 1000, 1000, 2),
              ('X', 'amount_mismatch', 3000, 2999, 1) $$,
    'matched (also by split payments), amount_mismatch, and one-sided references pending in the grace period');
SELECT api.tenant_set(:'t2');
SELECT results_eq($$ SELECT order_ref, status FROM api.reconciliations $$, $$ VALUES ('M', 'pending') $$,
    'the same order reference of another tenant is reconciled on its own');
SELECT throws_ok($$ INSERT INTO skeldir.reconciliations (tenant_id, order_ref, status, first_seen_at) VALUES (gen_random_uuid(), 'Z', 'matched', now()) $$,
    '42501', NULL, 'app_user cannot write the reconciliation table');
RESET ROLE;

-- Re-evaluation leaves pending rows alone until the grace period ends.
SELECT is(skeldir.reconciliation_reevaluate(), 0, 'inside the grace period nothing changes');
UPDATE skeldir.settings SET reconciliation_grace = '0 seconds';
SELECT is(skeldir.reconciliation_reevaluate(), 3, 'after the grace period three pending references change');
SET LOCAL ROLE app_user;
SELECT api.tenant_set(:'t1');
SELECT results_eq($$ SELECT order_ref, status FROM api.reconciliations WHERE order_ref IN ('NO', 'NP') ORDER BY 1 $$,
    $$ VALUES ('NO', 'missing_order'), ('NP', 'missing_payment') $$,
    'a payment without order is missing_order, an order without payment missing_payment');
SELECT api.tenant_set(:'t2');
SELECT results_eq($$ SELECT status FROM api.reconciliations $$, $$ VALUES ('missing_payment') $$,
    'the re-evaluation covers every tenant');
RESET ROLE;

-- A late payment turns missing_payment into matched when its task runs.
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor, currency, occurred_at, payload, route)
VALUES (:'t1', 'stripe', 'payment_intent.succeeded', 'payment', 'p-np', 'p-np', 'NP', 'pi_np', 1200, 'USD', now(), '{}', 't');
SELECT pgmq.send('attribution', jsonb_build_object('task', 'allocate', 'tenant_id', :'t1'::uuid, 'event_id', id))
  FROM skeldir.attribution_events WHERE vendor_event_id = 'p-np';
SET LOCAL ROLE app_user;
SELECT results_eq($$ SELECT outcome FROM api.task_run_batch('attribution', 10) $$, $$ VALUES ('succeeded') $$,
    'the late payment''s task runs');
SELECT api.tenant_set(:'t1');
SELECT results_eq($$ SELECT status FROM api.reconciliations WHERE order_ref = 'NP' $$, $$ VALUES ('matched') $$,
    'the late payment matches its order');
RESET ROLE;

-- A reference whose events are gone (purged) loses its row, and the status view is dirtied.
DELETE FROM skeldir.allocations AS a USING skeldir.attribution_events AS e
 WHERE a.tenant_id = e.tenant_id AND a.event_id = e.id AND e.tenant_id = :'t1' AND e.order_ref = 'NO';
DELETE FROM skeldir.attribution_events WHERE tenant_id = :'t1' AND order_ref = 'NO';
UPDATE skeldir.matview_state SET dirty = false WHERE view_name = 'mv_reconciliation_status';
SELECT count(*) AS neg_before FROM skeldir.read_model_deltas WHERE view_name = 'mv_reconciliation_status' AND n < 0 \gset
SELECT set_config('app.current_tenant_id', :'t1', true);
SELECT is(skeldir._reconcile(:'t1', 'NO'), NULL, 'a reference no event carries any more has no status');
SELECT is((SELECT count(*) FROM skeldir.reconciliations WHERE tenant_id = :'t1' AND order_ref = 'NO'), 0::bigint,
    'and its reconciliation row is deleted');
SELECT ok((SELECT count(*) FROM skeldir.read_model_deltas WHERE view_name = 'mv_reconciliation_status' AND n < 0) > :neg_before,
    'the deletion logs a -1 delta for mv_reconciliation_status, applied at commit');
SELECT set_config('app.current_tenant_id', '', true);

SELECT * FROM finish();
ROLLBACK;
