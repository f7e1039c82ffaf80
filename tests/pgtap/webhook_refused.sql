-- skeldir._webhook_refused: a delivery whose ingest raised a data error and that does not
-- authenticate is answered 401 and counted like every other 401 of a known tenant, through
-- the single call and through group commit, so the operator's counters match the answers.
BEGIN;
SELECT plan(10);

\ir lib/stripe.psql

SELECT tenant_id, endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Refused Store') \gset a_
SELECT tenant_id FROM api.tenant_create('Bystander Store') \gset b_
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null

CREATE FUNCTION pg_temp.unauthorized(tenant uuid) RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(count), 0)::bigint FROM skeldir.ingest_counters
     WHERE tenant_id = tenant AND outcome = 'unauthorized'
$$;

-- Control: the ordinary 401 (a wrong secret) counts once under the tenant.
SELECT is((SELECT http_status || ' ' || outcome
             FROM pg_temp.stripe_deliver(:'a_token', 'whsec_not_the_secret', pg_temp.stripe_event('evt_wrong'))),
          '401 unauthorized', 'control: a signature with the wrong secret is 401');
SELECT is(pg_temp.unauthorized(:'a_tenant_id'), 1::bigint, 'control: ... and counted once under its tenant');

-- A signature check that raises a data error (stands in for a header the check cannot
-- read): the ingest fails with class 22, skeldir._webhook_refused checks again, the check
-- raises again and the delivery is unauthenticated. Rolled back with the test.
CREATE OR REPLACE FUNCTION skeldir._stripe_signature_valid(header text, body bytea, secrets text[], tolerance interval)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'unreadable signature header' USING ERRCODE = '22007';
END;
$$;

SELECT is((SELECT http_status || ' ' || outcome || ' ' || response::text
             FROM pg_temp.stripe_deliver(:'a_token', :'a_secret', pg_temp.stripe_event('evt_unreadable'))),
          '401 unauthorized {"status": "unauthorized"}',
          'a delivery whose signature check raises is 401 with the bare unauthorized body');
SELECT is(pg_temp.unauthorized(:'a_tenant_id'), 2::bigint,
          '... and counted under its tenant like any other 401');

SELECT is((SELECT http_status || ' ' || outcome
             FROM pg_temp.receive_as_app_user('stripe', jsonb_build_object('stripe-signature', 't=1,v1=0'),
                                              pg_temp.stripe_event('evt_no_tenant'), 'ep_doesnotexist000000000000')),
          '401 unauthorized', 'an unknown endpoint token is 401 (no check to raise)');

-- Group commit answers through the same function.
CREATE TEMP TABLE answer ON COMMIT DROP AS
SELECT * FROM api.webhook_receive_batch(
    ARRAY['stripe', 'stripe'], ARRAY['/webhooks/stripe', '/webhooks/stripe'],
    ARRAY[jsonb_build_object('stripe-signature', 't=1,v1=0'), jsonb_build_object('stripe-signature', 't=1,v1=0')],
    ARRAY[convert_to(pg_temp.stripe_event('evt_b1'), 'UTF8'), convert_to(pg_temp.stripe_event('evt_b2'), 'UTF8')],
    ARRAY[:'a_token', 'ep_doesnotexist000000000000']);
SELECT results_eq('SELECT ord, http_status, outcome FROM answer ORDER BY ord',
    $$VALUES (1, 401, 'unauthorized'), (2, 401, 'unauthorized')$$,
    'group commit: both deliveries whose check raises are 401');
SELECT is(pg_temp.unauthorized(:'a_tenant_id'), 3::bigint,
          'group commit: the one to a known tenant is counted under it');

SELECT is((SELECT sum(count)::bigint FROM skeldir.ingest_counters WHERE outcome = 'unauthorized'), 3::bigint,
          'deliveries to no known tenant are counted nowhere');
SELECT is((SELECT count(*) FROM skeldir.ingest_counters WHERE tenant_id = :'b_tenant_id'), 0::bigint,
          'another tenant is never charged');
SELECT is_empty('SELECT FROM skeldir.attribution_events UNION ALL SELECT FROM skeldir.dead_letters',
          'nothing but the counter was stored for the unauthenticated deliveries');

SELECT * FROM finish();
ROLLBACK;
