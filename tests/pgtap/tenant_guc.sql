-- The tenant GUC helpers and the readiness probe (SPEC §4, §8): skeldir.current_tenant_id,
-- api.tenant_set, api.health_ready, api.session_identity, as the runtime role.
BEGIN;
SELECT plan(17);

-- Shape ------------------------------------------------------------------------------------

SELECT volatility_is('skeldir', 'current_tenant_id', ARRAY[]::name[], 'stable',
    'skeldir.current_tenant_id is STABLE (evaluated once per statement in policy quals)');
SELECT function_lang_is('skeldir', 'current_tenant_id', ARRAY[]::name[], 'sql',
    'skeldir.current_tenant_id is plain SQL (inlinable)');
SELECT isnt_definer('api', 'tenant_set', ARRAY['uuid'], 'api.tenant_set runs as its caller');
SELECT isnt_definer('api', 'health_ready', ARRAY[]::name[], 'api.health_ready runs as its caller (it probes the caller)');
SELECT isnt_definer('api', 'session_identity', ARRAY[]::name[], 'api.session_identity runs as its caller (it describes the caller)');

-- Behaviour, as app_user -------------------------------------------------------------------

SET LOCAL ROLE app_user;
RESET app.current_tenant_id;
SELECT is(skeldir.current_tenant_id(), NULL, 'unset GUC: no tenant (NULL, not an error)');
SELECT is(api.tenant_set('11111111-1111-1111-1111-111111111111'), '11111111-1111-1111-1111-111111111111'::uuid,
    'api.tenant_set returns the tenant it set');
SELECT is(skeldir.current_tenant_id(), '11111111-1111-1111-1111-111111111111'::uuid,
    '... and skeldir.current_tenant_id reads it back');
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null
SELECT is(skeldir.current_tenant_id(), NULL, 'an empty GUC means no tenant');

SELECT results_eq('SELECT * FROM api.health_ready()', $$VALUES (true, true)$$,
    'as app_user: readiness reports RLS forced and the GUC round trip');
SELECT is(current_setting('app.current_tenant_id', true), '', 'the readiness probe leaves an empty GUC empty');
SELECT api.tenant_set('22222222-2222-2222-2222-222222222222') \g /dev/null
SELECT lives_ok('SELECT * FROM api.health_ready()', 'the probe runs inside a tenant-scoped transaction');
SELECT is(skeldir.current_tenant_id(), '22222222-2222-2222-2222-222222222222'::uuid,
    '... and leaves that transaction''s tenant as it found it');
SELECT results_eq('SELECT role_name, is_superuser, bypass_rls, owned_objects FROM api.session_identity()',
    $$VALUES ('app_user', false, false, 0::bigint)$$, 'as app_user: identity is least privileged');
RESET ROLE;

-- Failure modes ----------------------------------------------------------------------------

SET LOCAL ROLE app_user;
SELECT set_config('app.current_tenant_id', 'not-a-uuid', true) \g /dev/null
SELECT throws_ok('SELECT skeldir.current_tenant_id()', '22P02', NULL,
    'a malformed GUC is an error (22P02), never a silent match');
SELECT throws_ok($$SELECT api.tenant_set('nope')$$, '22P02', NULL, 'api.tenant_set accepts only a uuid');
RESET ROLE;
SET LOCAL ROLE migration_owner;
SELECT cmp_ok((SELECT owned_objects FROM api.session_identity()), '>', 0::bigint,
    'as migration_owner: identity reports owned objects (the shell would refuse this DSN)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
