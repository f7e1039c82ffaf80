-- Deploy skeldir:function_session_identity to pg
BEGIN;

/**
 * Who this connection is, for the start-up identity assertion of the shell and the worker
 * (SPEC §3): they refuse to run when is_superuser or bypass_rls is true or owned_objects > 0.
 * owned_objects counts every object, of any kind, in this database or cluster-wide, owned by
 * the current role or by a role whose privileges it inherits (an owner's rights reach its
 * members): pg_shdepend records the owner of every object but the bootstrap superuser's.
 * Runs as the caller on purpose: it must describe the caller.
 */
CREATE FUNCTION api.session_identity(
    OUT role_name text, OUT is_superuser boolean, OUT bypass_rls boolean, OUT owned_objects bigint)
LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
           (SELECT pg_catalog.count(*)
              FROM pg_catalog.pg_shdepend AS d
             WHERE d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
               AND d.deptype = 'o'
               AND d.dbid IN (0, (SELECT db.oid FROM pg_catalog.pg_database AS db
                                   WHERE db.datname = pg_catalog.current_database()))
               AND pg_catalog.pg_has_role(r.oid, d.refobjid, 'USAGE'))
      FROM pg_catalog.pg_roles AS r
     WHERE r.rolname = current_user
$$;
COMMENT ON FUNCTION api.session_identity() IS
    'The current role: superuser?, BYPASSRLS?, objects it owns or inherits ownership of (must be 0 at runtime).';
GRANT EXECUTE ON FUNCTION api.session_identity() TO app_rw, app_ro;

COMMIT;
