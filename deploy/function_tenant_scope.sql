-- Deploy skeldir:function_tenant_scope to pg
-- requires: function_tenant_admin function_tenant_guc
BEGIN;

/**
 * Scopes the rest of the transaction to the tenant named by its id or its slug, as every
 * operator command accepts them (skeldir dashboard NAME --tenant acme-6bab4d). Called by the
 * dashboards' roles, app_rw and app_ro, which cannot read skeldir.tenants: it runs as its
 * owner to look the name up. It tells the caller nothing but the id of a tenant it already
 * named, and the tenant GUC it sets is one app_rw may set with api.tenant_set anyway.
 * Raises SK404 (no such tenant).
 */
CREATE FUNCTION api.tenant_scope(tenant text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
    SELECT skeldir._tenant_lookup(tenant_scope.tenant)
$$;
COMMENT ON FUNCTION api.tenant_scope(text) IS
    'Transaction-local: scope the rest of this transaction to the tenant with this id or slug. Raises SK404.';
REVOKE ALL ON FUNCTION api.tenant_scope(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.tenant_scope(text) TO app_rw, app_ro;

COMMIT;
