-- Verify skeldir:function_llm_request on pg
SELECT 'skeldir._llm_tenant_by_key(text)'::regprocedure, 'skeldir._llm_request(uuid, text, text, text, jsonb)'::regprocedure;
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY '{"api.llm_request_http(text, text, text, bytea)","api.llm_request(text, text, jsonb, text)","api.llm_call_http(text, text)"}'::text[] LOOP
        IF NOT pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION '%: wrong EXECUTE grants', _fn USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
