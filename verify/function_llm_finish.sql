-- Verify skeldir:function_llm_finish on pg
SELECT 'skeldir._llm_finish(uuid, bigint, text, text, boolean, integer, integer, double precision, jsonb, text, bigint)'::regprocedure,
       'skeldir._llm_message_done(bigint)'::regprocedure,
       'skeldir._llm_call_json(skeldir.llm_api_calls)'::regprocedure;
DO $$
BEGIN
    IF pg_catalog.has_function_privilege('public', 'skeldir._llm_message_done(bigint)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('app_user', 'skeldir._llm_message_done(bigint)', 'EXECUTE') THEN
        RAISE EXCEPTION 'skeldir._llm_message_done is executable by a runtime role' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
