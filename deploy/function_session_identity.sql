-- Deploy skeldir:function_session_identity to pg
BEGIN;

/**
 * Who this connection is, for the start-up identity assertion of the shell and the worker
 * (SPEC §3): they refuse to run when is_superuser or bypass_rls is true or owned_objects > 0.
 * Runs as the caller on purpose: it must describe the caller.
 */
CREATE FUNCTION api.session_identity(
    OUT role_name text, OUT is_superuser boolean, OUT bypass_rls boolean, OUT owned_objects bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
           (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class WHERE relowner = r.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc WHERE proowner = r.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_namespace WHERE nspowner = r.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type WHERE typowner = r.oid)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_database WHERE datdba = r.oid)
      FROM pg_catalog.pg_roles AS r
     WHERE r.rolname = current_user
$$;
COMMENT ON FUNCTION api.session_identity() IS
    'The current role: superuser?, BYPASSRLS?, number of objects it owns (must be 0 at runtime).';
GRANT EXECUTE ON FUNCTION api.session_identity() TO app_rw, app_ro;

COMMIT;
