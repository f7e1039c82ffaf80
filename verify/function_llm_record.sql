-- Verify skeldir:function_llm_record on pg
DO $$
DECLARE
    _fn text := 'api.llm_record(bigint, uuid, bigint, text, integer, integer, double precision, jsonb, text)';
BEGIN
    IF NOT pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
        RAISE EXCEPTION '%: wrong EXECUTE grants', _fn USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
