-- Secrets, rotation, dead-letter replay and who may call what.
BEGIN;
SELECT plan(25);

-- Privileges: operator functions are not for runtime roles; the shell's two are.
SELECT ok(NOT has_function_privilege('app_user', f, 'EXECUTE') AND NOT has_function_privilege('app_ro', f, 'EXECUTE'),
          'runtime roles cannot run ' || f)
  FROM unnest(ARRAY['api.tenant_secret_set(text, text, text, text)', 'api.tenant_secret_rotate(text, text, text, interval)',
                    'api.dead_letter_list(text, text, boolean)', 'api.dead_letter_replay(bigint)',
                    'api.dead_letter_replay_reason(text, text)']) AS f;
SELECT ok(has_function_privilege('app_user', 'api.webhook_paypal_keys(text, text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'api.webhook_paypal_keys(text, text)', 'EXECUTE'),
          'webhook_paypal_keys: app_user yes, PUBLIC no');
SELECT is((SELECT p.prosecdef AND p.proconfig @> ARRAY['search_path=""'] FROM pg_proc AS p
            WHERE p.oid = 'api.webhook_paypal_keys(text, text)'::regprocedure), true,
          'webhook_paypal_keys is a definer with an empty search_path');
SELECT throws_ok($$SET LOCAL ROLE app_user; SELECT * FROM skeldir.tenant_secrets$$, '42501', NULL,
                 'app_user cannot read secrets');
RESET ROLE;

-- A tenant for the rest of the file.
CREATE TEMP TABLE t AS SELECT * FROM api.tenant_create('Pgtap Admin');

SELECT throws_ok($$SELECT api.tenant_secret_set('nobody', 'stripe')$$, 'SK404', NULL, 'unknown tenant: SK404');
SELECT throws_ok(format($$SELECT api.tenant_secret_set(%L, 'mailchimp')$$, (SELECT slug FROM t)), 'SK404', NULL,
                 'unknown vendor: SK404');
SELECT throws_ok(format($$SELECT api.tenant_secret_set(%L, 'stripe', 'sk_live_x')$$, (SELECT slug FROM t)), '22023',
                 'not a Stripe signing secret', 'a Stripe secret must be whsec_...');
SELECT throws_ok(format($$SELECT api.tenant_secret_set(%L, 'standard', 'whsec_c2hvcnQ=')$$, (SELECT slug FROM t)),
                 '22023', 'not a Standard Webhooks secret', 'a Standard Webhooks key must be >= 16 bytes');
SELECT throws_ok(format($$SELECT api.tenant_secret_set(%L, 'paypal', %L)$$, (SELECT slug FROM t),
                        E'-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----'), '22023',
                 'PayPal needs the webhook id', 'PayPal needs its webhook id');
SELECT throws_ok(format($$SELECT api.tenant_secret_rotate(%L, 'shopify', NULL, '-1 hour')$$, (SELECT slug FROM t)),
                 '22023', 'rotation window must not be negative', 'negative window refused');

-- Rotation keeps the previous secret until the window ends.
SELECT lives_ok(format($$SELECT api.tenant_secret_set(%L, 'shopify', 'first-secret')$$, (SELECT tenant_id FROM t)),
                'set a known secret');
CREATE TEMP TABLE r AS SELECT * FROM api.tenant_secret_rotate((SELECT slug FROM t), 'shopify', 'second-secret', '1 hour');
SELECT is((SELECT secret_in_effect FROM r), 'second-secret', 'rotate returns the new secret');
SELECT ok((SELECT previous_expires_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes' FROM r),
          'previous secret expires after the window');
SELECT api.tenant_set((SELECT tenant_id FROM t));
SELECT is((SELECT ROW(secret, previous_secret)::text FROM skeldir.tenant_secrets
            WHERE tenant_id = (SELECT tenant_id FROM t) AND vendor = 'shopify'),
          '(second-secret,first-secret)', 'both secrets stored during the window');

CREATE TEMP TABLE body AS
SELECT convert_to('{"id": 1, "currency": "USD", "total_price": "1.00", "created_at": "2024-01-01T00:00:00Z"}', 'UTF8') AS b;
CREATE TEMP VIEW signed AS
SELECT k, jsonb_build_object('x-shopify-topic', 'orders/create', 'x-shopify-webhook-id', 'w-' || k,
           'x-shopify-hmac-sha256', encode(extensions.hmac(b, convert_to(k, 'UTF8'), 'sha256'), 'base64')) AS h
  FROM body, unnest('{first-secret,second-secret,third-secret}'::text[]) AS k;
CREATE TEMP TABLE tok AS SELECT endpoint_tokens ->> 'shopify' AS token FROM t;
GRANT SELECT ON signed, body, tok TO app_user;  -- test fixtures only; skeldir tables stay closed

SET LOCAL ROLE app_user;
SELECT is((SELECT array_agg(w.http_status ORDER BY s.k) FROM signed AS s, body, tok,
                LATERAL api.webhook_receive('shopify', '/r', s.h, body.b, tok.token) AS w),
          ARRAY[200, 200, 401], 'inside the window: previous and current verify, others do not');
RESET ROLE;
UPDATE skeldir.tenant_secrets SET previous_expires_at = now() - interval '1 second'
 WHERE tenant_id = (SELECT tenant_id FROM t) AND vendor = 'shopify';
SET LOCAL ROLE app_user;
SELECT is((SELECT array_agg(w.http_status ORDER BY s.k) FROM signed AS s, body, tok,
                LATERAL api.webhook_receive('shopify', '/r', s.h || '{"x-shopify-webhook-id": "again"}', body.b, tok.token) AS w),
          ARRAY[401, 200, 401], 'after the window: only the current secret verifies');
RESET ROLE;

-- Dead-letter replay through the same mapping and dedupe.
SELECT api.tenant_set((SELECT tenant_id FROM t));
CREATE TEMP TABLE dl AS
SELECT * FROM api.webhook_receive('shopify', '/r',
    (SELECT h - 'x-shopify-webhook-id' FROM signed WHERE k = 'second-secret'), (SELECT b FROM body),
    (SELECT token FROM tok));
SELECT is((SELECT response::jsonb ->> 'reason' FROM dl), 'missing_field:header.x-shopify-webhook-id',
          'a delivery without webhook id is dead-lettered');
SELECT is((SELECT count(*)::integer FROM api.dead_letter_list((SELECT slug FROM t), 'missing_field')), 1,
          'listed by reason prefix');
SELECT is((SELECT outcome FROM api.dead_letter_replay(((SELECT response::jsonb ->> 'dead_event_id' FROM dl))::bigint)),
          'dead_lettered', 'a replay before any fix fails again, and writes no second dead letter');
SELECT is((SELECT count(*)::integer FROM skeldir.dead_letters WHERE tenant_id = (SELECT tenant_id FROM t)), 1,
          'still exactly one dead letter');
SELECT throws_ok($$SELECT api.dead_letter_replay(-1)$$, 'SK404', NULL, 'unknown dead letter: SK404');

SELECT * FROM finish();
ROLLBACK;
