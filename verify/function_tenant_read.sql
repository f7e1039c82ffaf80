-- Verify skeldir:function_tenant_read on pg
SELECT 'skeldir._param_date(text, text, date)'::regprocedure,
       'skeldir._param_int(text, text, integer, integer, integer)'::regprocedure;
DO $$
BEGIN
    IF NOT pg_catalog.has_function_privilege('app_user', 'api.tenant_read(text, text, jsonb)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', 'api.tenant_read(text, text, jsonb)', 'EXECUTE') THEN
        RAISE EXCEPTION 'api.tenant_read: wrong EXECUTE grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
