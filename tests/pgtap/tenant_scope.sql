-- api.tenant_scope: the dashboard roles scope a transaction to a tenant named by id or slug
-- (skeldir dashboard --tenant), without any privilege on skeldir.tenants.
BEGIN;
SELECT plan(11);

-- Shape ------------------------------------------------------------------------------------

SELECT is_definer('api', 'tenant_scope', ARRAY['text'], 'api.tenant_scope runs as its owner (the roles cannot read tenants)');
SELECT ok(has_function_privilege('app_user', 'api.tenant_scope(text)', 'EXECUTE')
          AND has_function_privilege('app_ro', 'api.tenant_scope(text)', 'EXECUTE'),
    'app_user and app_ro may call it');
SELECT ok(NOT has_function_privilege('public', 'api.tenant_scope(text)', 'EXECUTE'), 'PUBLIC may not');

-- Behaviour --------------------------------------------------------------------------------

SET LOCAL ROLE migration_owner;
CREATE TEMP TABLE t ON COMMIT DROP AS SELECT tenant_id, slug FROM api.tenant_create('Scope Store');
GRANT SELECT ON t TO app_user, app_ro;
RESET ROLE;

SET LOCAL ROLE app_user;
SELECT is(api.tenant_scope((SELECT slug FROM t)), (SELECT tenant_id FROM t), 'by slug: the tenant id');
SELECT is(skeldir.current_tenant_id(), (SELECT tenant_id FROM t), '... set as the transaction''s tenant');
SELECT set_config('app.current_tenant_id', '', true) \g /dev/null
SELECT is(api.tenant_scope((SELECT tenant_id::text FROM t)), (SELECT tenant_id FROM t), 'by id: the same tenant');
SELECT is(skeldir.current_tenant_id(), (SELECT tenant_id FROM t), '... set as the transaction''s tenant');
SELECT throws_ok('SELECT * FROM skeldir.tenants', '42501', NULL, 'app_user still cannot read the tenants table');
RESET ROLE;

SET LOCAL ROLE app_ro;
SELECT is(api.tenant_scope((SELECT upper(tenant_id::text) FROM t)), (SELECT tenant_id FROM t),
    'as app_ro, by an upper-case id: the same tenant');
RESET ROLE;

-- Failure modes ----------------------------------------------------------------------------

SET LOCAL ROLE app_user;
SELECT throws_ok($$SELECT api.tenant_scope('no-such-store')$$, 'SK404', 'no tenant no-such-store',
    'an unknown slug is SK404 with the name');
SELECT throws_ok($$SELECT api.tenant_scope('00000000-0000-0000-0000-000000000000')$$, 'SK404', NULL,
    'an unknown id is SK404, not a scope on nobody');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
