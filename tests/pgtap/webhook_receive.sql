-- api.webhook_receive for Stripe (SPEC §5): every outcome of the single ingest entry point,
-- called as app_user (the shell's role); the assertions read the tables as superuser.
-- Signatures are computed in SQL with extensions.hmac (lib/stripe.psql).
-- now() is fixed for the whole transaction, so "now" below is one instant.
BEGIN;
SELECT plan(59);

-- Fixtures ------------------------------------------------------------------------------

\ir lib/stripe.psql

CREATE TEMP TABLE r (label text PRIMARY KEY, http_status integer, outcome text, response jsonb);

-- One delivery, made as app_user like the shell does; its answer kept under a label.
CREATE FUNCTION pg_temp.deliver(label text, body text, headers jsonb, token text, vendor text DEFAULT 'stripe')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO pg_temp.r
    SELECT label, w.* FROM pg_temp.receive_as_app_user(vendor, headers, body, token) AS w
$$;

-- A signed delivery to tenant A's Stripe endpoint token.
CREATE FUNCTION pg_temp.deliver_a(label text, body text, sig text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    SELECT pg_temp.deliver(label, body,
        jsonb_build_object('stripe-signature',
            coalesce(sig, pg_temp.stripe_sig(body, current_setting('test.a_secret')))),
        current_setting('test.a_token'))
$$;

CREATE FUNCTION pg_temp.answer(label text) RETURNS text LANGUAGE sql AS $$
    SELECT http_status || ' ' || outcome FROM pg_temp.r WHERE r.label = answer.label
$$;

SELECT tenant_id, api_key, endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Alpha Store') \gset a_
SELECT tenant_id FROM api.tenant_create('Beta Store') \gset b_
SELECT set_config('test.a_secret', :'a_secret', true), set_config('test.a_token', :'a_token', true),
       set_config('app.current_tenant_id', '', true) \g /dev/null

-- Shape ---------------------------------------------------------------------------------

SELECT has_function('api', 'webhook_receive', ARRAY['text', 'text', 'jsonb', 'bytea', 'text'],
    'api.webhook_receive(vendor, route, headers, body, endpoint_token) exists');
SELECT is_definer('api', 'webhook_receive', ARRAY['text', 'text', 'jsonb', 'bytea', 'text'],
    'api.webhook_receive runs as its owner (app_user may not read tenants or secrets)');
SELECT ok(has_function_privilege('app_user', 'api.webhook_receive(text, text, jsonb, bytea, text)', 'EXECUTE'),
    'app_user may call api.webhook_receive');

-- Behaviour: accepted, enqueued in the same transaction, duplicate ----------------------

SELECT pg_temp.deliver_a('accepted', pg_temp.stripe_event('evt_accepted'));
SELECT is(pg_temp.answer('accepted'), '200 accepted', 'a signed payment_intent.succeeded is 200 accepted');
SELECT ok((SELECT (response ->> 'event_id')::bigint IS NOT NULL FROM r WHERE label = 'accepted'),
    'the accepted answer carries the event id');
SELECT results_eq(
    format($$SELECT tenant_id, vendor, kind, amount_minor, currency::text, order_ref, utm_source, utm_medium
               FROM skeldir.attribution_events WHERE id = %s$$,
           (SELECT response ->> 'event_id' FROM r WHERE label = 'accepted')),
    format($$VALUES (%L::uuid, 'stripe', 'payment', 2500::bigint, 'USD', '1001', 'google', 'cpc')$$, :'a_tenant_id'),
    'the canonical event is stored under tenant A in minor units with its order ref and utm fields');
SELECT ok((SELECT customer_ref ~ '^[0-9a-f]{64}$' AND payload::text !~ 'jane\.doe'
             FROM skeldir.attribution_events WHERE vendor_event_id = 'evt_accepted'),
    'the email is kept only as a keyed hash; the stored payload has no email');
SELECT is((SELECT count(*) FROM pgmq.q_attribution
             WHERE message @> jsonb_build_object('task', 'allocate', 'tenant_id', :'a_tenant_id',
                                                 'event_id', (SELECT (response ->> 'event_id')::bigint FROM r WHERE label = 'accepted'))),
    1::bigint, 'an accepted event enqueued exactly one allocate message for it on pgmq attribution');

SELECT pg_temp.deliver_a('duplicate', pg_temp.stripe_event('evt_accepted'));
SELECT is(pg_temp.answer('duplicate'), '200 duplicate', 'the same evt_ id again is 200 duplicate');
SELECT is((SELECT response FROM r WHERE label = 'duplicate'),
          jsonb_build_object('status', 'duplicate', 'event_id', (SELECT (response ->> 'event_id')::bigint FROM r WHERE label = 'accepted')),
          'the duplicate answer names the original event id');
SELECT is((SELECT count(*) FROM skeldir.attribution_events WHERE vendor_event_id = 'evt_accepted'), 1::bigint,
    'a duplicate stores no second event');
SELECT is((SELECT count(*) FROM pgmq.q_attribution WHERE message ->> 'task' = 'allocate'), 1::bigint,
    'a duplicate enqueues no second task');

SELECT pg_temp.deliver('tenant_key', pg_temp.stripe_event('evt_by_key'),
    jsonb_build_object('x-skeldir-tenant-key', :'a_api_key',
                       'stripe-signature', pg_temp.stripe_sig(pg_temp.stripe_event('evt_by_key'), :'a_secret')),
    NULL);
SELECT is(pg_temp.answer('tenant_key'), '200 accepted', 'the X-Skeldir-Tenant-Key route resolves the tenant too');

SELECT pg_temp.deliver_a('charge', pg_temp.stripe_event('evt_charge', 'charge.succeeded', '{"payment_intent": "pi_x"}'));
SELECT is(pg_temp.answer('charge'), '200 accepted', 'charge.succeeded is accepted');
SELECT pg_temp.deliver_a('refund', pg_temp.stripe_event('evt_refund', 'charge.refunded', '{"amount_refunded": 700}'));
SELECT is((SELECT kind || ' ' || amount_minor FROM skeldir.attribution_events WHERE vendor_event_id = 'evt_refund'),
    'refund -700', 'charge.refunded is stored as a negative refund of amount_refunded');

-- Signature rules: several v1 (secret roll), v0 ignored, 300 s tolerance ------------------

SELECT pg_temp.deliver_a('many_v1', pg_temp.stripe_event('evt_many_v1'),
    format('t=%s,v1=%s,v1=%s', extract(epoch FROM now())::bigint, repeat('0', 64),
           split_part(pg_temp.stripe_sig(pg_temp.stripe_event('evt_many_v1'), :'a_secret'), 'v1=', 2)));
SELECT is(pg_temp.answer('many_v1'), '200 accepted', 'several v1 entries: accepted when any one matches');

SELECT pg_temp.deliver_a('v0_only', pg_temp.stripe_event('evt_v0_only'),
    replace(pg_temp.stripe_sig(pg_temp.stripe_event('evt_v0_only'), :'a_secret'), 'v1=', 'v0='));
SELECT is(pg_temp.answer('v0_only'), '401 unauthorized', 'a valid digest under v0 is ignored: 401');
SELECT pg_temp.deliver_a('v0_and_v1', pg_temp.stripe_event('evt_v0_v1'),
    pg_temp.stripe_sig(pg_temp.stripe_event('evt_v0_v1'), :'a_secret') || ',v0=' || repeat('f', 64));
SELECT is(pg_temp.answer('v0_and_v1'), '200 accepted', 'a stray v0 next to a valid v1 does not matter');

SELECT pg_temp.deliver_a('fresh_299', pg_temp.stripe_event('evt_fresh_299'),
    pg_temp.stripe_sig(pg_temp.stripe_event('evt_fresh_299'), :'a_secret', extract(epoch FROM now())::bigint - 299));
SELECT is(pg_temp.answer('fresh_299'), '200 accepted', 'a timestamp 299 s old is inside the tolerance');

-- Dead letters: verified deliveries that cannot be mapped ---------------------------------

SELECT count(*) AS queued FROM pgmq.q_attribution \gset dl_before_

SELECT pg_temp.deliver_a('invalid_json', '{"id": "evt_broken", "type": ');
SELECT is(pg_temp.answer('invalid_json'), '200 dead_lettered', 'a body that is not JSON is 200 dead_lettered');
SELECT is((SELECT response ->> 'reason' FROM r WHERE label = 'invalid_json'), 'invalid_json', '... reason invalid_json');
SELECT results_eq(
    format($$SELECT tenant_id, reason, payload IS NULL, body_bytes FROM skeldir.dead_letters WHERE id = %s$$,
           (SELECT response ->> 'dead_event_id' FROM r WHERE label = 'invalid_json')),
    format($$VALUES (%L::uuid, 'invalid_json', true, %s)$$, :'a_tenant_id', octet_length('{"id": "evt_broken", "type": ')),
    '... stored under the tenant as hash and length only (no payload)');

SELECT pg_temp.deliver_a('not_an_object', '[1, 2, 3]');
SELECT is((SELECT outcome || ' ' || (response ->> 'reason') FROM r WHERE label = 'not_an_object'),
    'dead_lettered not_an_object', 'a JSON array is dead-lettered as not_an_object');

SELECT pg_temp.deliver_a('missing_id', (pg_temp.stripe_event('evt_x')::jsonb - 'id')::text);
SELECT is((SELECT outcome || ' ' || (response ->> 'reason') FROM r WHERE label = 'missing_id'),
    'dead_lettered missing_field:id', 'an event without id is dead-lettered as missing_field:id');

SELECT pg_temp.deliver_a('missing_object', '{"id": "evt_no_obj", "type": "charge.succeeded", "created": 1700000000}');
SELECT is((SELECT response ->> 'reason' FROM r WHERE label = 'missing_object'),
    'missing_field:data.object', 'an event without data.object is missing_field:data.object');

SELECT pg_temp.deliver_a('bad_type', pg_temp.stripe_event('evt_bad_type', obj => '{"amount_received": "25.00"}'));
SELECT is((SELECT outcome || ' ' || (response ->> 'reason') FROM r WHERE label = 'bad_type'),
    'dead_lettered bad_type:data.object.amount_received', 'a string amount is bad_type:data.object.amount_received');

SELECT pg_temp.deliver_a('bad_currency', pg_temp.stripe_event('evt_bad_cur', obj => '{"currency": "zzz"}'));
SELECT is((SELECT outcome || ' ' || (response ->> 'reason') FROM r WHERE label = 'bad_currency'),
    'dead_lettered bad_currency', 'an unknown ISO 4217 code is bad_currency');

SELECT pg_temp.deliver_a('bad_amount', pg_temp.stripe_event('evt_bad_amt', obj => '{"amount_received": 12.5}'));
SELECT is((SELECT outcome || ' ' || (response ->> 'reason') FROM r WHERE label = 'bad_amount'),
    'dead_lettered bad_amount', 'a fractional minor-unit amount is bad_amount');

SELECT pg_temp.deliver_a('negative_amount', pg_temp.stripe_event('evt_neg_amt', obj => '{"amount_received": -5}'));
SELECT is((SELECT response ->> 'reason' FROM r WHERE label = 'negative_amount'),
    'bad_amount', 'a negative Stripe amount is bad_amount');

SELECT is((SELECT count(*) FROM skeldir.dead_letters
            WHERE tenant_id = :'a_tenant_id' AND reason IN ('missing_field:id', 'bad_type:data.object.amount_received',
                  'bad_currency', 'bad_amount') AND payload::text !~ 'jane\.doe'), 5::bigint,
    'each mapping failure is one dead letter whose stored projection holds no personal data');
SELECT is((SELECT count(*) FROM pgmq.q_attribution), :dl_before_queued::bigint,
    'dead-lettered deliveries enqueue nothing');
SELECT is((SELECT count(*) FROM skeldir.attribution_events
            WHERE vendor_event_id IN ('evt_bad_type', 'evt_bad_cur', 'evt_bad_amt', 'evt_neg_amt', 'evt_no_obj')),
    0::bigint, 'dead-lettered deliveries store no event');

-- Ignored topics ----------------------------------------------------------------------------

SELECT pg_temp.deliver_a('ignored', pg_temp.stripe_event('evt_customer', 'customer.created'));
SELECT is(pg_temp.answer('ignored'), '200 ignored', 'an unsupported topic is 200 ignored');
SELECT is((SELECT response FROM r WHERE label = 'ignored'), '{"status": "ignored", "topic": "customer.created"}'::jsonb,
    '... and the answer names the topic');
SELECT is((SELECT sum(count) FROM skeldir.ingest_counters WHERE tenant_id = :'a_tenant_id' AND outcome = 'ignored'),
    1::numeric, '... counted once under the tenant');
SELECT is((SELECT count(*) FROM skeldir.attribution_events WHERE vendor_event_id = 'evt_customer'), 0::bigint,
    '... and stores no event');

-- Failure modes: unauthorized, unknown vendor --------------------------------------------

SELECT (SELECT count(*) FROM skeldir.attribution_events) AS events,
       (SELECT count(*) FROM skeldir.dead_letters) AS dead,
       (SELECT count(*) FROM pgmq.q_attribution) AS queued,
       (SELECT coalesce(sum(count), 0) FROM skeldir.ingest_counters WHERE outcome = 'unauthorized') AS rejected
\gset before_

SELECT pg_temp.deliver_a('bad_signature', pg_temp.stripe_event('evt_bad_sig'),
    pg_temp.stripe_sig(pg_temp.stripe_event('evt_bad_sig'), 'whsec_not_the_secret'));
SELECT is(pg_temp.answer('bad_signature'), '401 unauthorized', 'a signature with the wrong secret is 401');
SELECT is((SELECT response FROM r WHERE label = 'bad_signature'), '{"status": "unauthorized"}'::jsonb,
    '... with the bare unauthorized body');

SELECT pg_temp.deliver_a('tampered', replace(pg_temp.stripe_event('evt_tampered'), '2500', '9999'),
    pg_temp.stripe_sig(pg_temp.stripe_event('evt_tampered'), :'a_secret'));
SELECT is(pg_temp.answer('tampered'), '401 unauthorized', 'a body changed after signing is 401');

SELECT pg_temp.deliver_a('stale', pg_temp.stripe_event('evt_stale'),
    pg_temp.stripe_sig(pg_temp.stripe_event('evt_stale'), :'a_secret', extract(epoch FROM now())::bigint - 301));
SELECT is(pg_temp.answer('stale'), '401 unauthorized', 'a timestamp 301 s old is stale: 401');

SELECT pg_temp.deliver_a('future', pg_temp.stripe_event('evt_future'),
    pg_temp.stripe_sig(pg_temp.stripe_event('evt_future'), :'a_secret', extract(epoch FROM now())::bigint + 301));
SELECT is(pg_temp.answer('future'), '401 unauthorized', 'a timestamp 301 s ahead is outside the tolerance too');

SELECT pg_temp.deliver('no_signature', pg_temp.stripe_event('evt_no_sig'), '{}', :'a_token');
SELECT is(pg_temp.answer('no_signature'), '401 unauthorized', 'no Stripe-Signature header is 401');

SELECT pg_temp.deliver_a('garbled_header', pg_temp.stripe_event('evt_garbled'), 't=abc,v1=xyz');
SELECT is(pg_temp.answer('garbled_header'), '401 unauthorized', 'a garbled Stripe-Signature header is 401, not an error');

SELECT pg_temp.deliver('unknown_key', pg_temp.stripe_event('evt_unknown_key'),
    jsonb_build_object('x-skeldir-tenant-key', 'skd_nope',
                       'stripe-signature', pg_temp.stripe_sig(pg_temp.stripe_event('evt_unknown_key'), :'a_secret')),
    NULL);
SELECT is(pg_temp.answer('unknown_key'), '401 unauthorized', 'an unknown tenant key is 401');
SELECT is((SELECT response FROM r WHERE label = 'unknown_key'), (SELECT response FROM r WHERE label = 'bad_signature'),
    '... with the same body as a bad signature (nothing to learn from probing)');

SELECT pg_temp.deliver('unknown_token', pg_temp.stripe_event('evt_unknown_token'),
    jsonb_build_object('stripe-signature', pg_temp.stripe_sig(pg_temp.stripe_event('evt_unknown_token'), :'a_secret')),
    'ep_doesnotexist000000000000');
SELECT is(pg_temp.answer('unknown_token'), '401 unauthorized', 'an unknown endpoint token is 401');

SELECT pg_temp.deliver('token_wrong_vendor', pg_temp.stripe_event('evt_wrong_vendor'),
    jsonb_build_object('stripe-signature', pg_temp.stripe_sig(pg_temp.stripe_event('evt_wrong_vendor'), :'a_secret')),
    :'a_token', 'shopify');
SELECT is(pg_temp.answer('token_wrong_vendor'), '401 unauthorized', 'a Stripe endpoint token does not route another vendor');

SELECT pg_temp.deliver('no_tenant', pg_temp.stripe_event('evt_no_tenant'),
    jsonb_build_object('stripe-signature', pg_temp.stripe_sig(pg_temp.stripe_event('evt_no_tenant'), :'a_secret')),
    NULL);
SELECT is(pg_temp.answer('no_tenant'), '401 unauthorized', 'neither token nor tenant key is 401');

SELECT pg_temp.deliver('unknown_vendor', pg_temp.stripe_event('evt_acme'), '{}', :'a_token', 'acme');
SELECT is(pg_temp.answer('unknown_vendor'), '404 unknown_vendor', 'an unknown vendor is 404');

SELECT results_eq(
    $$SELECT (SELECT count(*) FROM skeldir.attribution_events), (SELECT count(*) FROM skeldir.dead_letters),
             (SELECT count(*) FROM pgmq.q_attribution)$$,
    format('VALUES (%s::bigint, %s::bigint, %s::bigint)', :before_events, :before_dead, :before_queued),
    'rejected deliveries stored no event, no dead letter and no task');
SELECT is((SELECT sum(count) FROM skeldir.ingest_counters WHERE outcome = 'unauthorized'), :before_rejected + 6::numeric,
    '... only the unauthorized counter moved: once per rejection whose tenant was known (6)');
SELECT is((SELECT sum(count) FROM skeldir.ingest_counters WHERE outcome = 'unauthorized' AND tenant_id = :'a_tenant_id'),
    (SELECT sum(count) FROM skeldir.ingest_counters WHERE outcome = 'unauthorized'),
    '... and all of them under tenant A');
SELECT is((SELECT count(*) FROM skeldir.ingest_counters WHERE tenant_id = :'b_tenant_id'), 0::bigint,
    'tenant B was never charged for tenant A''s traffic');

-- Secret rotation: the previous secret verifies until it expires --------------------------

UPDATE skeldir.tenant_secrets
   SET previous_secret = secret, secret = 'whsec_rotated', previous_expires_at = now() + interval '1 hour'
 WHERE tenant_id = :'a_tenant_id' AND vendor = 'stripe';
SELECT pg_temp.deliver_a('previous_secret', pg_temp.stripe_event('evt_prev_secret'));
SELECT is(pg_temp.answer('previous_secret'), '200 accepted', 'the previous secret verifies during the rotation window');
SELECT pg_temp.deliver_a('new_secret', pg_temp.stripe_event('evt_new_secret'),
    pg_temp.stripe_sig(pg_temp.stripe_event('evt_new_secret'), 'whsec_rotated'));
SELECT is(pg_temp.answer('new_secret'), '200 accepted', 'the new secret verifies');
UPDATE skeldir.tenant_secrets SET previous_expires_at = now() - interval '1 second'
 WHERE tenant_id = :'a_tenant_id' AND vendor = 'stripe';
SELECT pg_temp.deliver_a('expired_secret', pg_temp.stripe_event('evt_expired_secret'));
SELECT is(pg_temp.answer('expired_secret'), '401 unauthorized', 'an expired previous secret no longer verifies');
UPDATE skeldir.tenant_secrets
   SET secret = previous_secret, previous_secret = NULL, previous_expires_at = NULL
 WHERE tenant_id = :'a_tenant_id' AND vendor = 'stripe';

-- Atomicity: the event and its task commit together or not at all ------------------------

ALTER TABLE pgmq.q_attribution RENAME TO q_attribution_away;
SELECT throws_ok($$SELECT pg_temp.deliver_a('atomic', pg_temp.stripe_event('evt_atomic'))$$, '42P01', NULL,
    'when the task cannot be enqueued the call fails instead of answering accepted');
ALTER TABLE pgmq.q_attribution_away RENAME TO q_attribution;
SELECT is_empty($$SELECT FROM skeldir.attribution_events WHERE vendor_event_id = 'evt_atomic'$$,
    '... and no event was stored without its task');

-- The suspended tenant -----------------------------------------------------------------------

UPDATE skeldir.tenants SET status = 'suspended' WHERE id = :'a_tenant_id';
SELECT pg_temp.deliver_a('suspended', pg_temp.stripe_event('evt_suspended'));
SELECT is(pg_temp.answer('suspended'), '401 unauthorized', 'a suspended tenant''s deliveries are 401');

SELECT * FROM finish();
ROLLBACK;
