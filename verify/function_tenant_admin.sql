-- Verify skeldir:function_tenant_admin on pg
DO $$
BEGIN
    IF pg_catalog.has_function_privilege('app_user', 'api.tenant_create(text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'app_user can create tenants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
