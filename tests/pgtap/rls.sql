-- Row-level security (SPEC §4). First the catalog: every table with a tenant_id column, in
-- any schema, has RLS enabled and forced and a policy on the tenant GUC, so a new table
-- without RLS fails here. Then isolation as the real role (app_user) with the real GUC.
BEGIN;
SELECT plan(31);

\ir lib/stripe.psql

-- Every ordinary or partitioned table with a tenant_id column outside the system schemas.
CREATE FUNCTION pg_temp.tenant_tables() RETURNS SETOF regclass LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass
      FROM pg_class AS c
      JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
       AND EXISTS (SELECT FROM pg_attribute AS a
                    WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
$$;

-- Tenant tables that break the rule, with the reason.
CREATE FUNCTION pg_temp.rls_violations() RETURNS TABLE (relation regclass, problem text) LANGUAGE sql STABLE AS $$
    SELECT t, p.problem
      FROM pg_temp.tenant_tables() AS t
      JOIN pg_class AS c ON c.oid = t
     CROSS JOIN LATERAL (VALUES
        ('RLS not enabled', NOT c.relrowsecurity),
        ('RLS not forced', NOT c.relforcerowsecurity),
        ('no policy', NOT EXISTS (SELECT FROM pg_policy AS p WHERE p.polrelid = t)),
        ('no policy on skeldir.current_tenant_id()',
            NOT EXISTS (SELECT FROM pg_policy AS p WHERE p.polrelid = t
                           AND pg_get_expr(p.polqual, p.polrelid) ~ 'current_tenant_id\(\)')),
        ('tenant_id is nullable',
            EXISTS (SELECT FROM pg_attribute AS a WHERE a.attrelid = t AND a.attname = 'tenant_id' AND NOT a.attnotnull)),
        ('tenant_id in no primary or unique key',
            NOT EXISTS (SELECT FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid
                         WHERE i.indrelid = t AND i.indisunique AND a.attname = 'tenant_id'
                           AND a.attnum = ANY (i.indkey)))
     ) AS p (problem, broken)
     WHERE p.broken
$$;

-- For each tenant table, the rows the caller sees that belong to another tenant than `tenant`
-- (or any row at all when `tenant` is NULL). Runs as the caller, so RLS decides.
CREATE FUNCTION pg_temp.foreign_rows(tenant uuid) RETURNS TABLE (relation text, leaked bigint)
LANGUAGE plpgsql AS $$
DECLARE
    _t regclass;
BEGIN
    FOR _t IN SELECT * FROM pg_temp.tenant_tables() LOOP
        relation := _t::text;
        EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id IS DISTINCT FROM $1', _t) USING tenant INTO leaked;
        IF leaked > 0 THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$$;

-- Shape: the catalog rule -------------------------------------------------------------------

SELECT cmp_ok((SELECT count(*) FROM pg_temp.tenant_tables()), '>=', 7::bigint,
    'the catalog finds the tenant tables (not vacuous)');
SELECT is_empty('SELECT * FROM pg_temp.rls_violations()',
    'every table with a tenant_id column has RLS enabled and forced, a policy on the tenant GUC, '
    'tenant_id NOT NULL and in a primary or unique key');
SELECT is((SELECT rls_forced FROM api.health_ready()), true, 'api.health_ready agrees: RLS forced on every tenant table');

-- Fixtures: two tenants with data in every kind of tenant row ----------------------------------

SELECT tenant_id, endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Alpha Store') \gset a_
SELECT tenant_id, endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Beta Store') \gset b_
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null

SELECT pg_temp.stripe_deliver(:'a_token', :'a_secret', pg_temp.stripe_event('evt_a1')) \g /dev/null
SELECT pg_temp.stripe_deliver(:'a_token', :'a_secret', pg_temp.stripe_event('evt_a2', obj => '{"amount_received": 700}')) \g /dev/null
SELECT pg_temp.stripe_deliver(:'a_token', :'a_secret', pg_temp.stripe_event('evt_a3', 'customer.created')) \g /dev/null
SELECT pg_temp.stripe_deliver(:'a_token', :'a_secret', '{"id": "evt_dl_a", "type": "payment_intent.succeeded"}') \g /dev/null
SELECT pg_temp.stripe_deliver(:'b_token', :'b_secret', pg_temp.stripe_event('evt_b1')) \g /dev/null
SELECT pg_temp.stripe_deliver(:'b_token', :'b_secret', '{"id": "evt_dl_b", "type": "payment_intent.succeeded"}') \g /dev/null
SELECT pg_temp.stripe_deliver(:'b_token', 'whsec_wrong', pg_temp.stripe_event('evt_b_rejected')) \g /dev/null
INSERT INTO skeldir.worker_failed_jobs (tenant_id, task_id, task_name, queue, retry_count, error_message, payload)
VALUES (:'a_tenant_id', 900001, 'allocate', 'attribution', 3, 'test', '{}'),
       (:'b_tenant_id', 900002, 'allocate', 'attribution', 3, 'test', '{}');

SET LOCAL ROLE app_user;
SELECT * FROM api.task_run_batch('attribution') \g /dev/null
RESET ROLE;

SELECT results_eq(
    $$SELECT (SELECT count(*) FROM skeldir.attribution_events), (SELECT count(*) FROM skeldir.allocations),
             (SELECT count(*) FROM skeldir.dead_letters), (SELECT count(*) FROM skeldir.ingest_counters)$$,
    $$VALUES (3::bigint, 3::bigint, 2::bigint, 2::bigint)$$,
    'fixture: events, allocations (by app_user''s task run), dead letters and counters exist for both tenants');

-- Behaviour: app_user through the api views -------------------------------------------------

SET LOCAL ROLE app_user;
SELECT api.tenant_set(:'a_tenant_id') \g /dev/null
SELECT results_eq('SELECT vendor_event_id FROM api.events ORDER BY 1', ARRAY['evt_a1', 'evt_a2'],
    'as app_user with tenant A''s GUC: api.events shows exactly A''s events');
SELECT results_eq('SELECT amount_minor FROM api.allocations ORDER BY 1', ARRAY[700::bigint, 2500],
    '... api.allocations shows exactly A''s allocations');
SELECT results_eq($$SELECT payload ->> 'id' FROM api.dead_letters$$, ARRAY['evt_dl_a'],
    '... api.dead_letters shows exactly A''s dead letter');

SELECT api.tenant_set(:'b_tenant_id') \g /dev/null
SELECT results_eq('SELECT vendor_event_id FROM api.events ORDER BY 1', ARRAY['evt_b1'],
    'as app_user with tenant B''s GUC: api.events shows exactly B''s events');
SELECT results_eq($$SELECT payload ->> 'id' FROM api.dead_letters$$, ARRAY['evt_dl_b'],
    '... api.dead_letters shows exactly B''s dead letter');
SELECT is_empty($$SELECT FROM api.events WHERE vendor_event_id LIKE 'evt_a%'$$,
    '... and a predicate naming A''s events finds nothing');

RESET app.current_tenant_id;
SELECT is(skeldir.current_tenant_id(), NULL, 'with no GUC the current tenant is NULL, not an error');
SELECT is_empty('SELECT * FROM api.events', 'as app_user with no GUC: api.events is empty');
SELECT is_empty('SELECT * FROM api.allocations', '... api.allocations is empty');
SELECT is_empty('SELECT * FROM api.dead_letters', '... api.dead_letters is empty');
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null
SELECT is_empty('SELECT * FROM api.events', 'as app_user with an empty GUC: api.events is empty');
SELECT api.tenant_set(gen_random_uuid()) \g /dev/null
SELECT is_empty('SELECT * FROM api.events', 'as app_user with an unknown tenant''s GUC: api.events is empty');
SELECT set_config('app.current_tenant_id', 'not-a-uuid', true) \g /dev/null
SELECT throws_ok('SELECT * FROM api.events', '22P02', NULL,
    'as app_user with a malformed GUC: an error, never rows');

-- Failure modes: app_user cannot write or read the tables, even with a GUC -----------------------

SELECT api.tenant_set(:'a_tenant_id') \g /dev/null
SELECT throws_ok(format($$INSERT INTO skeldir.attribution_events (tenant_id, vendor, topic, kind, vendor_event_id,
                            amount_minor, currency, occurred_at, payload, route)
                          VALUES (%L, 'stripe', 't', 'payment', 'evt_forged', 1, 'USD', now(), '{}', 'r')$$, :'a_tenant_id'),
    '42501', NULL, 'as app_user: INSERT into skeldir.attribution_events is rejected, even for its own tenant');
SELECT throws_ok($$UPDATE skeldir.dead_letters SET reason = 'x'$$, '42501', NULL,
    'as app_user: UPDATE skeldir.dead_letters is rejected');
SELECT throws_ok('DELETE FROM skeldir.allocations', '42501', NULL, 'as app_user: DELETE FROM skeldir.allocations is rejected');
SELECT throws_ok('SELECT * FROM skeldir.worker_failed_jobs', '42501', NULL,
    'as app_user: SELECT skeldir.worker_failed_jobs is rejected');
RESET ROLE;

-- Defence in depth: even a stray GRANT reveals only the current tenant's rows -------------------
-- Generic over every tenant table; the GRANT dies with the ROLLBACK.

DO $$
DECLARE _t regclass;
BEGIN
    FOR _t IN SELECT * FROM pg_temp.tenant_tables() LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO app_rw',
                       (SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = _t));
        EXECUTE format('GRANT SELECT, INSERT ON %s TO app_rw', _t);
    END LOOP;
END;
$$;

SET LOCAL ROLE app_user;
SELECT api.tenant_set(:'a_tenant_id') \g /dev/null
SELECT is_empty(format('SELECT * FROM pg_temp.foreign_rows(%L)', :'a_tenant_id'),
    'with a stray GRANT, as app_user under A''s GUC: no tenant table shows a row of another tenant');
SELECT set_eq($$SELECT tenant_id FROM skeldir.worker_failed_jobs$$, ARRAY[:'a_tenant_id'::uuid],
    '... and A''s own rows are visible (the check above is not vacuous)');
SELECT set_eq($$SELECT vendor FROM skeldir.tenant_endpoints$$, ARRAY['stripe', 'shopify', 'woocommerce', 'paypal', 'standard'],
    '... A sees its five endpoint tokens, not B''s');
SELECT api.tenant_set(:'b_tenant_id') \g /dev/null
SELECT is_empty(format('SELECT * FROM pg_temp.foreign_rows(%L)', :'b_tenant_id'),
    'with a stray GRANT, as app_user under B''s GUC: no tenant table shows a row of another tenant');
RESET app.current_tenant_id;
SELECT is_empty('SELECT * FROM pg_temp.foreign_rows(NULL)',
    'with a stray GRANT, as app_user with no GUC: every tenant table shows zero rows');
SELECT api.tenant_set(:'a_tenant_id') \g /dev/null
SELECT throws_ok(format($$INSERT INTO skeldir.worker_failed_jobs (tenant_id, task_id, task_name, queue, retry_count,
                            error_message, payload) VALUES (%L, 1, 'x', 'attribution', 0, 'x', '{}')$$, :'b_tenant_id'),
    '42501', NULL, 'with a stray GRANT, under A''s GUC: writing a row for tenant B violates the policy');
RESET ROLE;

-- FORCE: the owner is bound too (its definer functions run under the same policies) ------------

SET LOCAL ROLE migration_owner;
SELECT api.tenant_set(:'a_tenant_id') \g /dev/null
SELECT set_eq('SELECT vendor_event_id FROM skeldir.attribution_events', ARRAY['evt_a1', 'evt_a2'],
    'as the table owner under A''s GUC: only A''s events (RLS is forced)');
RESET app.current_tenant_id;
SELECT is_empty('SELECT FROM skeldir.attribution_events', 'as the table owner with no GUC: no events');
RESET ROLE;

-- Negative control: a new tenant table without RLS is reported -----------------------------------

CREATE TABLE public.rls_probe (tenant_id uuid);
SELECT set_eq($$SELECT problem FROM pg_temp.rls_violations() WHERE relation = 'public.rls_probe'::regclass$$,
    ARRAY['RLS not enabled', 'RLS not forced', 'no policy', 'no policy on skeldir.current_tenant_id()',
          'tenant_id is nullable', 'tenant_id in no primary or unique key'],
    'control: a new table with tenant_id in any schema and no RLS is reported for every missing guard');
SELECT is((SELECT rls_forced FROM api.health_ready()), false, 'control: ... and api.health_ready reports it');

SELECT * FROM finish();
ROLLBACK;
