-- Verify skeldir:function_llm_admit on pg
SELECT 'skeldir._llm_admit(skeldir.llm_api_calls)'::regprocedure;
DO $$
BEGIN
    IF NOT pg_catalog.has_function_privilege('app_user', 'api.llm_admit_batch(integer)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', 'api.llm_admit_batch(integer)', 'EXECUTE') THEN
        RAISE EXCEPTION 'api.llm_admit_batch: wrong EXECUTE grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
