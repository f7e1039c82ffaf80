-- Verify skeldir:function_tenant_guc on pg
DO $$
BEGIN
    IF NOT pg_catalog.has_function_privilege('app_rw', 'skeldir.current_tenant_id()', 'EXECUTE')
       OR NOT pg_catalog.has_function_privilege('app_rw', 'api.tenant_set(uuid)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', 'api.tenant_set(uuid)', 'EXECUTE') THEN
        RAISE EXCEPTION 'tenant GUC helpers: wrong EXECUTE grants'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
