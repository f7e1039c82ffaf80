-- SECURITY DEFINER hygiene (SPEC §4, STYLE 5): every definer function in skeldir and api
-- pins its search_path to one without public or "$user", is not executable by PUBLIC and
-- is owned by a role that neither is a superuser nor bypasses RLS. Catalog-driven, so a
-- definer function added later without these fails here.
BEGIN;
SELECT plan(11);

CREATE FUNCTION pg_temp.definers() RETURNS TABLE (fn regprocedure, config text[], acl aclitem[], owner oid)
LANGUAGE sql STABLE AS $$
    SELECT p.oid::regprocedure, p.proconfig, p.proacl, p.proowner
      FROM pg_proc AS p
      JOIN pg_namespace AS n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('skeldir', 'api') AND p.prosecdef
$$;

-- The search_path a function pins, or NULL when it pins none.
CREATE FUNCTION pg_temp.pinned_path(config text[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT substr(c, length('search_path=') + 1) FROM unnest(config) AS c WHERE c LIKE 'search_path=%'
$$;

CREATE FUNCTION pg_temp.definer_violations() RETURNS TABLE (fn regprocedure, problem text) LANGUAGE sql STABLE AS $$
    SELECT d.fn, v.problem
      FROM pg_temp.definers() AS d
     CROSS JOIN LATERAL (VALUES
        ('search_path not pinned', pg_temp.pinned_path(d.config) IS NULL),
        ('search_path includes public or "$user"', pg_temp.pinned_path(d.config) ~ '(^|[ ,"])(public|\$user)([ ,"]|$)'),
        ('executable by PUBLIC', d.acl IS NULL OR EXISTS (SELECT FROM aclexplode(d.acl) AS a
                                                           WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')),
        ('owner is a superuser or bypasses RLS', (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles AS r WHERE r.oid = d.owner)),
        ('no COMMENT', obj_description(d.fn, 'pg_proc') IS NULL)
     ) AS v (problem, broken)
     WHERE v.broken
$$;

-- Shape ------------------------------------------------------------------------------------

SELECT cmp_ok((SELECT count(*) FROM pg_temp.definers()), '>=', 4::bigint,
    'the catalog finds the definer functions (not vacuous)');

-- Behaviour: the rule holds for every definer function --------------------------------------

SELECT is_empty('SELECT * FROM pg_temp.definer_violations()',
    'every SECURITY DEFINER function in skeldir and api pins a search_path without public, is not '
    'executable by PUBLIC, has an owner that is no superuser and does not bypass RLS, and has a COMMENT');
SELECT set_eq($$SELECT DISTINCT pg_temp.pinned_path(config) FROM pg_temp.definers()$$, ARRAY['""'],
    'every definer function pins the empty search_path (all names schema-qualified)');
SELECT set_eq($$SELECT DISTINCT owner::regrole::text FROM pg_temp.definers()$$, ARRAY['migration_owner'],
    'every definer function is owned by migration_owner');
SELECT is_empty($$SELECT fn FROM pg_temp.definers() AS d
                   WHERE NOT has_function_privilege('app_rw', d.fn, 'EXECUTE')
                     AND NOT has_function_privilege('app_ro', d.fn, 'EXECUTE')$$,
    'every definer function is granted to a runtime role (it exists to cross a role boundary)');

-- Failure modes: the checks catch a careless definer function ---------------------------------

SET LOCAL ROLE migration_owner;
CREATE FUNCTION api.hygiene_unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
CREATE FUNCTION api.hygiene_public_path() RETURNS int LANGUAGE sql SECURITY DEFINER
    SET search_path = public, pg_temp AS 'SELECT 1';
COMMENT ON FUNCTION api.hygiene_public_path() IS 'probe';
CREATE FUNCTION skeldir.hygiene_granted() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 1';
COMMENT ON FUNCTION skeldir.hygiene_granted() IS 'probe';
GRANT EXECUTE ON FUNCTION skeldir.hygiene_granted() TO PUBLIC;
RESET ROLE;

SELECT set_eq($$SELECT problem FROM pg_temp.definer_violations() WHERE fn = 'api.hygiene_unpinned()'::regprocedure$$,
    ARRAY['search_path not pinned', 'no COMMENT'],
    'control: a definer function without SET search_path (and no comment) is reported');
SELECT set_eq($$SELECT problem FROM pg_temp.definer_violations() WHERE fn = 'api.hygiene_public_path()'::regprocedure$$,
    ARRAY['search_path includes public or "$user"'],
    'control: a definer function whose search_path includes public is reported');
SELECT set_eq($$SELECT problem FROM pg_temp.definer_violations() WHERE fn = 'skeldir.hygiene_granted()'::regprocedure$$,
    ARRAY['executable by PUBLIC'],
    'control: a definer function granted to PUBLIC is reported');
SELECT ok(NOT has_function_privilege('public', 'api.hygiene_unpinned()', 'EXECUTE'),
    'control: default privileges keep even a careless new function from PUBLIC');

CREATE FUNCTION api.hygiene_superuser() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 1';
REVOKE ALL ON FUNCTION api.hygiene_superuser() FROM PUBLIC;
COMMENT ON FUNCTION api.hygiene_superuser() IS 'probe';
SELECT set_eq($$SELECT problem FROM pg_temp.definer_violations() WHERE fn = 'api.hygiene_superuser()'::regprocedure$$,
    ARRAY['owner is a superuser or bypasses RLS'],
    'control: a definer function owned by a superuser is reported');
SELECT is((SELECT count(DISTINCT fn) FROM pg_temp.definer_violations()), 4::bigint,
    'control: exactly the four probes are reported, nothing else');

SELECT * FROM finish();
ROLLBACK;
