-- The tenant api.webhook_receive resolves never leaks into its caller's transaction:
-- whatever the outcome, app.current_tenant_id is what the caller had before the call.
BEGIN;
SELECT plan(4);

\ir lib/stripe.psql

SELECT endpoint_tokens ->> 'stripe' AS token, secrets ->> 'stripe' AS secret
  FROM api.tenant_create('Guc Store') \gset g_
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null

SELECT is((SELECT outcome FROM pg_temp.stripe_deliver(:'g_token', :'g_secret', pg_temp.stripe_event('evt_guc_1'))),
          'accepted', 'a signed delivery is accepted');
SELECT is(current_setting('app.current_tenant_id', true), '',
          'after an accepted delivery the caller still has no tenant');

SELECT is((SELECT outcome FROM pg_temp.stripe_deliver(:'g_token', 'whsec_wrong', pg_temp.stripe_event('evt_guc_2'))),
          'unauthorized', 'a delivery with a bad signature to a public endpoint token is refused');

SELECT set_config('app.current_tenant_id', '11111111-1111-1111-1111-111111111111', true) \g /dev/null
SELECT pg_temp.stripe_deliver(:'g_token', :'g_secret', pg_temp.stripe_event('evt_guc_3')) \g /dev/null
SELECT is(current_setting('app.current_tenant_id', true), '11111111-1111-1111-1111-111111111111',
          'a caller''s own tenant GUC is restored after the call');

SELECT * FROM finish();
ROLLBACK;
