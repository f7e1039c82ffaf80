-- Vendor signature checks in SQL (SPEC §5 step 2), with published test vectors where they exist.
BEGIN;
SELECT plan(38);

SELECT has_function('skeldir', '_secure_equal', ARRAY['bytea', 'bytea'], 'constant-time comparison exists');
SELECT has_function('skeldir', '_hmac_base64_valid', ARRAY['text', 'bytea', 'text[]'], 'base64 HMAC check exists');
SELECT has_function('skeldir', '_standard_signature_valid', ARRAY['jsonb', 'bytea', 'text[]', 'interval'],
                    'Standard Webhooks check exists');
SELECT has_function('skeldir', '_paypal_attestation_valid', ARRAY['jsonb', 'bytea', 'text[]', 'text', 'interval'],
                    'PayPal attestation check exists');

SELECT ok(skeldir._secure_equal('\x0102', '\x0102') AND NOT skeldir._secure_equal('\x0102', '\x0103')
          AND NOT skeldir._secure_equal('\x01', '\x0100'), '_secure_equal: equal, unequal, prefix');

-- RFC-style HMAC-SHA256 vector: key "key", "The quick brown fox jumps over the lazy dog".
SELECT ok(skeldir._hmac_base64_valid('97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=',
          convert_to('The quick brown fox jumps over the lazy dog', 'UTF8'), ARRAY['wrong-key', 'key']),
          'Shopify/WooCommerce: base64 HMAC valid when any secret matches');
SELECT ok(NOT skeldir._hmac_base64_valid('97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=',
          convert_to('The quick brown fox jumps over the lazy dog.', 'UTF8'), ARRAY['key']),
          'one changed byte of body fails');
SELECT ok(NOT skeldir._hmac_base64_valid(NULL, '\x00', ARRAY['key']), 'missing signature header fails');
SELECT ok(NOT skeldir._hmac_base64_valid('97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=',
          convert_to('The quick brown fox jumps over the lazy dog', 'UTF8'), '{}'), 'no secret: fails');

SELECT is(skeldir._html_entity_decode('s3cr&amp;t&lt;&gt;&quot;&#039;&#x41;&#66;'), 's3cr&t<>"''AB',
          'WooCommerce secret: HTML entities decoded like wp_specialchars_decode');
SELECT is(skeldir._html_entity_decode('&amp;lt;'), '&lt;', 'decoding is single-pass (&amp;lt; -> &lt;)');
SELECT is(skeldir._html_entity_decode('a&#0;b&#xD800;c&#9999999;'), 'a&#0;b&#xD800;c&#9999999;',
          'references that are not characters are left as written (never an error)');

-- Standard Webhooks reference vector (secret, msg id, timestamp, payload, v1 signature).
SELECT ok(skeldir._standard_signature_valid(
          '{"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}',
          convert_to('{"test": 2432232314}', 'UTF8'), ARRAY['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
          interval '100 years'),
          'Standard Webhooks: reference vector verifies (any of several v1 signatures)');
SELECT ok(NOT skeldir._standard_signature_valid(
          '{"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}',
          convert_to('{"test": 2432232314}', 'UTF8'), ARRAY['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
          interval '300 seconds'),
          'Standard Webhooks: the same delivery is stale outside the tolerance');
SELECT ok(NOT skeldir._standard_signature_valid(
          '{"webhook-id": "msg_other", "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}',
          convert_to('{"test": 2432232314}', 'UTF8'), ARRAY['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
          interval '100 years'),
          'Standard Webhooks: the message id is part of the signed content');
SELECT ok(NOT skeldir._standard_signature_valid(
          '{"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}',
          convert_to('{"test": 2432232314}', 'UTF8'), ARRAY['whsec_!!not base64!!'], interval '100 years'),
          'Standard Webhooks: a secret that is not base64 verifies nothing (no error)');

-- Stripe: several v1 entries, v0 ignored, tolerance.
CREATE TEMP TABLE stripe_case AS
SELECT extract(epoch FROM now())::bigint AS t, convert_to('{"id": "evt_1"}', 'UTF8') AS body,
       'whsec_test_secret'::text AS secret;
SELECT ok(skeldir._stripe_signature_valid(
          format('t=%s,v1=%s,v1=%s', c.t, repeat('0', 64),
                 encode(extensions.hmac(convert_to(c.t || '.', 'UTF8') || c.body, convert_to(c.secret, 'UTF8'), 'sha256'), 'hex')),
          c.body, ARRAY[c.secret], interval '300 seconds'), 'Stripe: valid when any v1 matches')
  FROM stripe_case AS c;
SELECT ok(NOT skeldir._stripe_signature_valid(
          format('t=%s,v0=%s', c.t,
                 encode(extensions.hmac(convert_to(c.t || '.', 'UTF8') || c.body, convert_to(c.secret, 'UTF8'), 'sha256'), 'hex')),
          c.body, ARRAY[c.secret], interval '300 seconds'), 'Stripe: v0 is ignored')
  FROM stripe_case AS c;
SELECT ok(NOT skeldir._stripe_signature_valid(
          format('t=%s,v1=%s', c.t - 301,
                 encode(extensions.hmac(convert_to((c.t - 301) || '.', 'UTF8') || c.body, convert_to(c.secret, 'UTF8'), 'sha256'), 'hex')),
          c.body, ARRAY[c.secret], interval '300 seconds'), 'Stripe: older than the tolerance is stale')
  FROM stripe_case AS c;

-- PayPal: the shell's attestation is checked against the pinned certificate and the body.
CREATE TEMP TABLE paypal_case AS
SELECT E'-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' AS cert,
       convert_to('{"id": "WH-1"}', 'UTF8') AS body;
CREATE TEMP VIEW paypal_headers AS
SELECT jsonb_build_object(
           'paypal-transmission-id', 't-1', 'paypal-auth-algo', 'SHA256withRSA',
           'paypal-transmission-time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'x-skeldir-paypal-verification', format('v1,%s,%s', encode(sha256(convert_to(c.cert, 'UTF8')), 'hex'),
                                                    encode(sha256(c.body), 'hex'))) AS h, c.*
  FROM paypal_case AS c;
SELECT ok(skeldir._paypal_attestation_valid(p.h, p.body, ARRAY[p.cert], 'WH-SUB', interval '300 seconds'),
          'PayPal: attestation for the pinned certificate and this body is accepted') FROM paypal_headers AS p;
SELECT ok(NOT skeldir._paypal_attestation_valid(p.h, p.body || '\x20', ARRAY[p.cert], 'WH-SUB', interval '300 seconds'),
          'PayPal: a body that differs from the attested one fails') FROM paypal_headers AS p;
SELECT ok(NOT skeldir._paypal_attestation_valid(p.h, p.body, ARRAY['other cert'], 'WH-SUB', interval '300 seconds'),
          'PayPal: a certificate that is not pinned for the tenant fails') FROM paypal_headers AS p;
SELECT ok(NOT skeldir._paypal_attestation_valid(p.h, p.body, ARRAY[p.cert], NULL, interval '300 seconds'),
          'PayPal: no configured webhook id fails') FROM paypal_headers AS p;
SELECT ok(NOT skeldir._paypal_attestation_valid(p.h || '{"paypal-transmission-time": "2020-01-01T00:00:00Z"}',
          p.body, ARRAY[p.cert], 'WH-SUB', interval '300 seconds'), 'PayPal: a stale transmission time fails')
  FROM paypal_headers AS p;
SELECT ok(NOT skeldir._paypal_attestation_valid(p.h - 'x-skeldir-paypal-verification', p.body, ARRAY[p.cert],
          'WH-SUB', interval '300 seconds'), 'PayPal: no attestation fails') FROM paypal_headers AS p;
-- Issue 18 §3: a transmission time that is not an ISO 8601 instant is stale, never an error
-- (infinity made now() - time overflow with 22008; 'now' would never go stale).
SELECT ok(NOT skeldir._paypal_attestation_valid(p.h || jsonb_build_object('paypal-transmission-time', v.t),
          p.body, ARRAY[p.cert], 'WH-SUB', interval '300 seconds'),
          format('PayPal: transmission time %s fails, without raising', v.t))
  FROM paypal_headers AS p,
       (VALUES ('infinity'), ('-infinity'), ('now'), ('today'), ('epoch'), ('not a time'), (''),
               ('2026-13-45T99:00:00Z'), ('99999-01-01T00:00:00Z')) AS v (t);
SELECT ok(skeldir._paypal_attestation_valid(p.h || jsonb_build_object('paypal-transmission-time',
              to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')),
          p.body, ARRAY[p.cert], 'WH-SUB', interval '300 seconds'),
          'PayPal: a fresh time with fraction and numeric offset is accepted') FROM paypal_headers AS p;

-- The entry point as the real runtime role.
SET LOCAL ROLE app_user;
SELECT is((SELECT http_status FROM api.webhook_receive('acme', '/webhooks/{vendor}', '{}', '\x'::bytea)), 404,
          'unknown vendor: 404');
SELECT is((SELECT outcome FROM api.webhook_receive('shopify', '/webhooks/{vendor}/{endpoint_token}', '{}',
           '{}'::bytea, 'ep_doesnotexist0000')), 'unauthorized', 'unknown endpoint token: unauthorized');
SELECT is((SELECT count(*)::integer FROM api.webhook_paypal_keys('ep_doesnotexist0000', NULL)), 0,
          'PayPal keys of an unknown tenant: none');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
