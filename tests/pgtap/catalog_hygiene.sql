-- Catalog hygiene (STYLE 5, issue 19 §2; the rules Supabase's splinter lints check, see
-- tests/test_splinter.py): every function in skeldir and api pins the empty search_path or has
-- a SQL-standard body (bound at creation, so no search_path applies), no extension lives in
-- public, and no table has two permissive policies for one role and action (each would be
-- evaluated for every row). Catalog-driven, so an object added later that breaks a rule fails
-- here without anyone listing it.
BEGIN;
SELECT plan(10);

-- Functions of skeldir and api that neither pin search_path = '' nor have a SQL-standard body.
CREATE FUNCTION pg_temp.unpinned_functions() RETURNS SETOF regprocedure LANGUAGE sql STABLE AS $$
    SELECT p.oid::regprocedure
      FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace IN ('skeldir'::regnamespace, 'api'::regnamespace)
       AND p.prosqlbody IS NULL
       AND NOT coalesce(p.proconfig @> ARRAY['search_path=""'], false)
$$;

-- Extensions in public. pgTAP is the one exception: bootstrap installs it (with_pgtap) only
-- into test databases, where these tests call its functions unqualified; tests/test_splinter.py
-- runs the extension lint against the deployed database, which has no pgTAP.
CREATE FUNCTION pg_temp.extensions_in_public() RETURNS SETOF name LANGUAGE sql STABLE AS $$
    SELECT e.extname FROM pg_catalog.pg_extension AS e
     WHERE e.extnamespace = 'public'::regnamespace AND e.extname <> 'pgtap'
$$;

-- (table, role, action) with more than one permissive policy. A policy TO PUBLIC applies to
-- every role; ALL is each of the four actions. Roles that bypass RLS never evaluate policies.
CREATE FUNCTION pg_temp.multiple_permissive() RETURNS TABLE (tbl regclass, role name, action text)
LANGUAGE sql STABLE AS $$
    SELECT p.polrelid::regclass, r.rolname, a.action
      FROM pg_catalog.pg_policy AS p
      JOIN pg_catalog.pg_roles AS r ON p.polroles @> ARRAY[r.oid] OR p.polroles = ARRAY[0::oid]
     CROSS JOIN LATERAL unnest(CASE p.polcmd WHEN 'r' THEN ARRAY['SELECT'] WHEN 'a' THEN ARRAY['INSERT']
                                             WHEN 'w' THEN ARRAY['UPDATE'] WHEN 'd' THEN ARRAY['DELETE']
                                             ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END) AS a (action)
     WHERE p.polpermissive AND NOT r.rolbypassrls AND r.rolname !~ '^pg_'
     GROUP BY 1, 2, 3
    HAVING count(*) > 1
$$;

-- Shape: the rules look at something -----------------------------------------------------------

SELECT cmp_ok((SELECT count(*) FROM pg_catalog.pg_proc
                WHERE pronamespace IN ('skeldir'::regnamespace, 'api'::regnamespace)), '>=', 50::bigint,
    'the catalog finds the functions of skeldir and api (not vacuous)');
SELECT cmp_ok((SELECT count(*) FROM pg_catalog.pg_policy AS p JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
                WHERE c.relnamespace = 'skeldir'::regnamespace), '>=', 10::bigint,
    'the catalog finds the policies of skeldir (not vacuous)');

-- Behaviour: the rules hold -------------------------------------------------------------------

SELECT is_empty('SELECT * FROM pg_temp.unpinned_functions()',
    'every function in skeldir and api pins search_path = '''' or has a SQL-standard body');
SELECT is_empty('SELECT * FROM pg_temp.extensions_in_public()',
    'no extension is installed in public');
SELECT is_empty('SELECT * FROM pg_temp.multiple_permissive()',
    'no table has more than one permissive policy for one role and action');

-- Failure modes: the rules catch what they are for --------------------------------------------

SET LOCAL ROLE migration_owner;
CREATE FUNCTION skeldir.hygiene_unpinned() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';
CREATE FUNCTION skeldir.hygiene_public_path() RETURNS int LANGUAGE sql IMMUTABLE
    SET search_path = public AS 'SELECT 1';
CREATE FUNCTION skeldir.hygiene_atomic() RETURNS int LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT 1; END;
CREATE FUNCTION skeldir.hygiene_pinned() RETURNS int LANGUAGE plpgsql IMMUTABLE
    SET search_path = '' AS 'BEGIN RETURN 1; END';
CREATE TABLE skeldir.hygiene_policies (tenant_id uuid);
CREATE POLICY hygiene_one ON skeldir.hygiene_policies FOR SELECT TO app_rw USING (true);
CREATE POLICY hygiene_two ON skeldir.hygiene_policies FOR ALL TO app_rw USING (true);
CREATE POLICY hygiene_narrowing ON skeldir.hygiene_policies AS RESTRICTIVE FOR SELECT TO app_rw USING (true);
RESET ROLE;
CREATE EXTENSION tsm_system_rows SCHEMA public;

SELECT set_eq($$SELECT f::text FROM pg_temp.unpinned_functions() AS f WHERE f::text LIKE 'skeldir.hygiene%'$$,
    ARRAY['skeldir.hygiene_unpinned()', 'skeldir.hygiene_public_path()'],
    'control: a function without SET search_path, or with one other than '''', is reported');
SELECT ok(NOT EXISTS (SELECT FROM pg_temp.unpinned_functions() AS f
                       WHERE f IN ('skeldir.hygiene_atomic()'::regprocedure, 'skeldir.hygiene_pinned()'::regprocedure)),
    'control: a BEGIN ATOMIC body or a pinned empty search_path passes');
SELECT set_eq('SELECT * FROM pg_temp.extensions_in_public()', ARRAY['tsm_system_rows'],
    'control: an extension created in public is reported');
SELECT set_eq($$SELECT action FROM pg_temp.multiple_permissive()
                WHERE tbl = 'skeldir.hygiene_policies'::regclass AND role = 'app_rw'$$,
    ARRAY['SELECT'],
    'control: a SELECT policy and an ALL policy for one role are two permissive SELECT policies');
SELECT ok(NOT EXISTS (SELECT FROM pg_temp.multiple_permissive()
                       WHERE tbl = 'skeldir.hygiene_policies'::regclass AND action <> 'SELECT'),
    'control: a restrictive policy and single permissive ones per action are not reported');

SELECT * FROM finish();
ROLLBACK;
