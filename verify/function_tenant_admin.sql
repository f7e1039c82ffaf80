-- Verify skeldir:function_tenant_admin on pg
SELECT 'skeldir._secret_generate(text)'::regprocedure,
       'skeldir._tenant_lookup(text)'::regprocedure,
       'skeldir._secret_check(text, text)'::regprocedure,
       'api.tenant_create(text)'::regprocedure,
       'api.tenant_secret_set(text, text, text, text)'::regprocedure,
       'api.tenant_secret_rotate(text, text, text, interval)'::regprocedure;
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY ARRAY['api.tenant_create(text)', 'api.tenant_secret_set(text, text, text, text)',
                               'api.tenant_secret_rotate(text, text, text, interval)'] LOOP
        IF pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION 'app roles can run operator function %', _fn USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
