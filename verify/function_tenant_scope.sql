-- Verify skeldir:function_tenant_scope on pg
DO $$
BEGIN
    IF NOT (SELECT p.prosecdef AND p.proconfig = ARRAY['search_path=""']
              FROM pg_catalog.pg_proc AS p WHERE p.oid = 'api.tenant_scope(text)'::regprocedure) THEN
        RAISE EXCEPTION 'api.tenant_scope(text) is not a definer with a pinned search_path'
            USING ERRCODE = 'invalid_function_definition';
    END IF;
    IF NOT pg_catalog.has_function_privilege('app_rw', 'api.tenant_scope(text)', 'EXECUTE')
       OR NOT pg_catalog.has_function_privilege('app_ro', 'api.tenant_scope(text)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', 'api.tenant_scope(text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'api.tenant_scope(text): wrong EXECUTE grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
