-- The worker's set-based passes probe each reference and each event by index, also for a
-- tenant ANALYZE has not seen yet (new, or growing fast). With a full most-common-values
-- list for tenant_id such a tenant is estimated at one row, and the planner then prefers
-- scanning the tenant's whole index range and filtering (its own foreign-key checks too):
-- a cost that grows with the tenant, paid on every batch (stats_tenant_id,
-- _reconcile_refs). Measured in buffers (deterministic, unlike time): the passes over three
-- events of a tenant holding 3,000 touch 44 (reconcile) and 77 (allocate) buffers here; the
-- reconcile pass with `order_ref = ANY` touched 694, the allocate pass with the default
-- statistics target 991.
BEGIN;
SELECT plan(5);

-- This suite runs as a superuser, who bypasses RLS: every query names its tenant.
SELECT tenant_id AS fresh FROM api.tenant_create('Plan Fresh') \gset

CREATE FUNCTION pg_temp.add_payments(tenant uuid, n integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO skeldir.attribution_events
           (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor, currency,
            occurred_at, utm_source, utm_medium, customer_ref, payload, route)
    SELECT tenant, 'stripe', 'payment_intent.succeeded', 'payment', 'evt_' || i, 'evt_' || i, 'ord-' || i, 'pi_' || i,
           1000 + i, 'USD', now() - interval '1 minute', 'google', 'cpc', 'cust-' || (i % 500), '{}', 't'
      FROM generate_series(1, n) AS i
$$;

SELECT is((SELECT array_agg(attstattarget ORDER BY attrelid::regclass::text) FROM pg_attribute
             WHERE attname = 'tenant_id' AND attrelid IN ('skeldir.attribution_events'::regclass,
                   'skeldir.allocations'::regclass, 'skeldir.reconciliations'::regclass)),
    '{1,1,1}'::integer[], 'tenant_id keeps statistics target 1 on the tables the worker probes');

-- The statistics know five tenants with events; the fresh one gets its 3,000 after ANALYZE.
SELECT pg_temp.add_payments(t.tenant_id, 600) FROM generate_series(1, 5) AS i, api.tenant_create('Plan Known ' || i) AS t;
ANALYZE skeldir.attribution_events;
ANALYZE skeldir.reconciliations;
ANALYZE skeldir.allocations;
SELECT pg_temp.add_payments(:'fresh', 3000);

\ir lib/buffers.psql

SELECT set_config('app.current_tenant_id', :'fresh', true);
-- Warm the session's catalog caches and plans on other references, so that only the
-- pass's own reads are counted below.
SELECT count(*) FROM skeldir._reconcile_refs(:'fresh', '{ord-1,ord-2,ord-3}');
SELECT skeldir._allocate_batch(:'fresh',
    ARRAY(SELECT e.id FROM skeldir.attribution_events AS e
           WHERE e.tenant_id = :'fresh' AND e.vendor_event_id IN ('evt_1', 'evt_2', 'evt_3')));

SELECT cmp_ok(pg_temp.buffers(format('SELECT * FROM skeldir._reconcile_refs(%L, %L)', :'fresh', '{ord-10,ord-20,ord-30}')),
    '<', 150::bigint, 'reconciling three references of a tenant the statistics do not know probes them by index');
SELECT cmp_ok(pg_temp.buffers(format('SELECT skeldir._allocate_batch(%L, %L)', :'fresh',
    ARRAY(SELECT e.id FROM skeldir.attribution_events AS e
           WHERE e.tenant_id = :'fresh' AND e.vendor_event_id IN ('evt_10', 'evt_20', 'evt_30')))),
    '<', 250::bigint, 'allocating three of its events probes them by index');
SELECT results_eq(format($$ SELECT r.order_ref, r.status, r.payment_minor FROM skeldir.reconciliations AS r
                             WHERE r.tenant_id = %L ORDER BY 1 $$, :'fresh'),
    $$ VALUES ('ord-1', 'pending', 1001::bigint), ('ord-10', 'pending', 1010::bigint), ('ord-2', 'pending', 1002::bigint),
              ('ord-20', 'pending', 1020::bigint), ('ord-3', 'pending', 1003::bigint), ('ord-30', 'pending', 1030::bigint) $$,
    'and the passes did their work: six references reconciled, pending their orders');
SELECT is((SELECT count(DISTINCT a.event_id) FROM skeldir.allocations AS a WHERE a.tenant_id = :'fresh'), 6::bigint,
    'six events allocated');

SELECT * FROM finish();
ROLLBACK;
