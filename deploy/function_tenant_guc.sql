-- Deploy skeldir:function_tenant_guc to pg
BEGIN;

/**
 * The tenant of the current transaction, read by every RLS policy.
 * Unset (or empty) means NULL, so policies match zero rows instead of raising.
 * STABLE and plain SQL so the planner can inline it into policy quals.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it into every policy
 * qual (a call per row) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir.current_tenant_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE BEGIN ATOMIC
    SELECT nullif(pg_catalog.current_setting('app.current_tenant_id', true), '')::uuid;
END;
COMMENT ON FUNCTION skeldir.current_tenant_id() IS
    'Tenant of the current transaction (GUC app.current_tenant_id); NULL when unset.';
GRANT EXECUTE ON FUNCTION skeldir.current_tenant_id() TO app_rw, app_ro;

/**
 * Sets the tenant for the rest of the current transaction only (is_local = true), so a
 * pooled connection behind PgBouncer in transaction mode never carries it to the next
 * client. Used by operators in psql and by tests; the shell authenticates with a key.
 */
CREATE FUNCTION api.tenant_set(tenant_id uuid) RETURNS uuid
LANGUAGE sql VOLATILE SET search_path = '' AS $$
    SELECT pg_catalog.set_config('app.current_tenant_id', tenant_set.tenant_id::text, true)::uuid
$$;
COMMENT ON FUNCTION api.tenant_set(uuid) IS
    'Transaction-local: scope the rest of this transaction to one tenant.';
GRANT EXECUTE ON FUNCTION api.tenant_set(uuid) TO app_rw, app_ro;

COMMIT;
