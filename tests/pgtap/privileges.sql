-- Privileges (SPEC §3): what each runtime role can and cannot do. Catalog-driven where it
-- can be, so that an object added later with a stray grant fails here.
BEGIN;
SELECT plan(53);

-- Fixtures: the catalog questions, as functions so the negative controls below reuse them.

-- Every privilege `who` holds on a table, view, matview or sequence in the private schemas
-- (table-level or on any column).
CREATE FUNCTION pg_temp.private_grants(who name) RETURNS TABLE (relation text, privilege text)
LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass::text, p.privilege
      FROM pg_class AS c
      JOIN pg_namespace AS n ON n.oid = c.relnamespace
     CROSS JOIN unnest('{SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER}'::text[]) AS p (privilege)
     WHERE n.nspname IN ('skeldir', 'pgmq') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND (has_table_privilege(who, c.oid, p.privilege)
            OR (p.privilege IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                AND has_any_column_privilege(who, c.oid, p.privilege)))
    UNION ALL
    SELECT c.oid::regclass::text, p.privilege
      FROM pg_class AS c
      JOIN pg_namespace AS n ON n.oid = c.relnamespace
     CROSS JOIN unnest('{USAGE,SELECT,UPDATE}'::text[]) AS p (privilege)
     WHERE n.nspname IN ('skeldir', 'pgmq') AND c.relkind = 'S'
       AND has_sequence_privilege(who, c.oid, p.privilege)
$$;

-- Objects `who` owns in this database or cluster-wide (pg_shdepend records every owner
-- that is not the bootstrap superuser, whatever the object type).
CREATE FUNCTION pg_temp.owned_by(who name) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM pg_shdepend AS d
     WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = who::regrole AND d.deptype = 'o'
       AND d.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;

-- Functions in skeldir/api that PUBLIC may execute (a NULL proacl means the default: PUBLIC may).
CREATE FUNCTION pg_temp.public_executable() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT p.oid::regprocedure::text
      FROM pg_proc AS p
      JOIN pg_namespace AS n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('skeldir', 'api')
       AND (p.proacl IS NULL
            OR EXISTS (SELECT FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
$$;

-- Shape: the roles are what SPEC §3 says --------------------------------------------------

SELECT has_role('app_user', 'role app_user exists');
SELECT has_role('app_ro', 'role app_ro exists');
SELECT isnt_superuser('app_user', 'app_user is not a superuser');
SELECT ok(NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'app_user'), 'app_user has no BYPASSRLS');
SELECT ok(NOT (SELECT rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'app_user'),
    'app_user can create neither roles nor databases');
SELECT is(pg_temp.owned_by('app_user'), 0::bigint, 'app_user owns no object');
SELECT isnt((SELECT datdba::regrole::text FROM pg_database WHERE datname = current_database()), 'app_user',
    'app_user is not the database owner');
SELECT is_member_of('app_rw', ARRAY['app_user'], 'app_user is a member of app_rw');
SELECT set_eq($$SELECT roleid::regrole::text FROM pg_auth_members WHERE member = 'app_user'::regrole$$,
    ARRAY['app_rw'], 'app_rw is the only role app_user belongs to');
SELECT isnt_superuser('app_ro', 'app_ro is not a superuser');
SELECT ok(NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'app_ro'), 'app_ro has no BYPASSRLS');
SELECT is(pg_temp.owned_by('app_ro'), 0::bigint, 'app_ro owns no object');
SELECT is(pg_temp.owned_by('app_rw'), 0::bigint, 'app_rw owns no object');
SELECT ok(NOT pg_has_role('app_ro', 'app_rw', 'MEMBER'), 'app_ro is not a member of app_rw');

-- app_user: no table privileges, the api surface only ------------------------------------

SELECT cmp_ok((SELECT count(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
                WHERE n.nspname IN ('skeldir', 'pgmq') AND c.relkind IN ('r', 'p', 'm')), '>=', 20::bigint,
    'the catalog loops below cover the tables of skeldir and pgmq (not vacuous)');
SELECT is_empty($$SELECT * FROM pg_temp.private_grants('app_user')$$,
    'app_user holds no privilege on any table, matview or sequence in skeldir or pgmq');
SELECT is_empty($$SELECT * FROM pg_temp.private_grants('app_rw')$$,
    'app_rw holds no privilege on any table, matview or sequence in skeldir or pgmq');
SELECT is_empty($$SELECT nspname FROM pg_namespace
                   WHERE nspname !~ '^pg_(toast_)?temp_' AND has_schema_privilege('app_user', oid, 'CREATE')$$,
    'app_user may create objects in no schema (its own temp schema aside)');
SELECT ok(NOT has_schema_privilege('app_user', 'pgmq', 'USAGE'), 'app_user has no USAGE on schema pgmq');
SELECT ok(NOT has_schema_privilege('app_user', 'extensions', 'USAGE'), 'app_user has no USAGE on schema extensions');
SELECT is_empty($$SELECT c.oid::regclass FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'api' AND has_table_privilege('app_user', c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')$$,
    'app_user can write through no api view');
SELECT ok(has_table_privilege('app_user', 'api.events', 'SELECT'), 'app_user reads events through api.events');

SELECT ok(has_function_privilege('app_user', 'api.webhook_receive(text, text, jsonb, bytea, text)', 'EXECUTE'),
    'app_user can execute api.webhook_receive');
SELECT ok(has_function_privilege('app_user', 'api.task_run_batch(text, integer)', 'EXECUTE'),
    'app_user can execute api.task_run_batch');
SELECT ok(has_function_privilege('app_user', 'api.health_ready()', 'EXECUTE'),
    'app_user can execute api.health_ready');
SELECT ok(NOT has_function_privilege('app_user', 'api.tenant_create(text)', 'EXECUTE'),
    'app_user cannot execute api.tenant_create');

-- app_user, as itself: the attempts are rejected -------------------------------------------

SET LOCAL ROLE app_user;
SELECT results_eq('SELECT * FROM api.session_identity()', $$VALUES ('app_user', false, false, 0::bigint)$$,
    'as app_user: api.session_identity reports no superuser, no BYPASSRLS, nothing owned');
SELECT throws_ok('SELECT * FROM skeldir.tenants', '42501', NULL, 'as app_user: SELECT skeldir.tenants is denied');
SELECT throws_ok('SELECT secret FROM skeldir.tenant_secrets', '42501', NULL,
    'as app_user: SELECT skeldir.tenant_secrets is denied');
SELECT throws_ok('SELECT customer_ref_key FROM skeldir.settings', '42501', NULL,
    'as app_user: SELECT skeldir.settings (the customer hash key) is denied');
SELECT throws_ok($$INSERT INTO skeldir.attribution_events (tenant_id, vendor, topic, kind, vendor_event_id,
                      amount_minor, currency, occurred_at, payload, route)
                   VALUES (gen_random_uuid(), 'stripe', 't', 'payment', 'evt', 1, 'USD', now(), '{}', 'r')$$,
    '42501', NULL, 'as app_user: INSERT into skeldir.attribution_events is denied');
SELECT throws_ok('UPDATE skeldir.settings SET task_max_retries = 0', '42501', NULL,
    'as app_user: UPDATE skeldir.settings is denied');
SELECT throws_ok('DELETE FROM skeldir.dead_letters', '42501', NULL, 'as app_user: DELETE FROM skeldir.dead_letters is denied');
SELECT throws_ok('SELECT * FROM skeldir.mv_daily_revenue_summary', '42501', NULL,
    'as app_user: the matview itself is denied (tenants read api.daily_revenue)');
SELECT throws_ok('SELECT * FROM pgmq.q_attribution', '42501', NULL, 'as app_user: reading a pgmq queue table is denied');
SELECT throws_ok($$SELECT pgmq.send('attribution', '{"task": "poison_pill"}')$$, '42501', NULL,
    'as app_user: pgmq.send is denied (tasks are enqueued only by definer functions)');
SELECT throws_ok($$SELECT * FROM api.tenant_create('Mallory')$$, '42501', NULL,
    'as app_user: api.tenant_create is denied');
SELECT throws_ok('DELETE FROM api.events', '42501', NULL, 'as app_user: DELETE through api.events is denied');
SELECT lives_ok('SELECT * FROM api.health_ready()', 'as app_user: api.health_ready runs');
RESET ROLE;

-- app_ro: dashboards only -----------------------------------------------------------------

SELECT is_empty($$SELECT * FROM pg_temp.private_grants('app_ro')$$,
    'app_ro holds no privilege on any table, matview or sequence in skeldir or pgmq');
SELECT ok(NOT has_function_privilege('app_ro', 'api.webhook_receive(text, text, jsonb, bytea, text)', 'EXECUTE'),
    'app_ro cannot execute api.webhook_receive');
SELECT ok(NOT has_function_privilege('app_ro', 'api.task_run_batch(text, integer)', 'EXECUTE'),
    'app_ro cannot execute api.task_run_batch');
SELECT ok(NOT has_function_privilege('app_ro', 'api.tenant_create(text)', 'EXECUTE'),
    'app_ro cannot execute api.tenant_create');
SET LOCAL ROLE app_ro;
SELECT throws_ok($$SELECT * FROM api.webhook_receive('stripe', 'r', '{}', '\x7b7d', NULL)$$, '42501', NULL,
    'as app_ro: api.webhook_receive is denied');
SELECT throws_ok('SELECT * FROM skeldir.attribution_events', '42501', NULL,
    'as app_ro: SELECT skeldir.attribution_events is denied');
SELECT lives_ok('SELECT * FROM api.events', 'as app_ro: api.events is readable');
RESET ROLE;

-- PUBLIC ----------------------------------------------------------------------------------

SELECT is_empty('SELECT * FROM pg_temp.public_executable()',
    'PUBLIC may execute no function in schemas skeldir or api');
SELECT is_empty($$SELECT * FROM pg_temp.private_grants('public')$$,
    'PUBLIC holds no privilege on any table, matview or sequence in skeldir or pgmq');

-- Negative controls: the catalog checks above do catch a violation ------------------------

SET LOCAL ROLE migration_owner;
CREATE FUNCTION skeldir._privileges_probe() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TABLE skeldir.privileges_probe (id int);
RESET ROLE;
SELECT ok(NOT has_function_privilege('public', 'skeldir._privileges_probe()', 'EXECUTE'),
    'a function migration_owner creates later is not executable by PUBLIC (default privileges)');
GRANT EXECUTE ON FUNCTION skeldir._privileges_probe() TO PUBLIC;
SELECT set_eq('SELECT * FROM pg_temp.public_executable()', ARRAY['skeldir._privileges_probe()'],
    'control: a function granted to PUBLIC is reported by the PUBLIC check');
GRANT SELECT ON skeldir.privileges_probe TO app_rw;
SELECT set_eq($$SELECT relation FROM pg_temp.private_grants('app_user')$$, ARRAY['skeldir.privileges_probe'],
    'control: a table granted to app_rw is reported for app_user');
SELECT is(pg_temp.owned_by('migration_owner') > 0, true, 'control: the ownership count sees migration_owner''s objects');
GRANT migration_owner TO app_user;
SET LOCAL ROLE app_user;
SELECT cmp_ok((SELECT owned_objects FROM api.session_identity()), '>', 0::bigint,
    'control: app_user granted migration_owner by mistake is reported as owning objects (shell and worker refuse)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
