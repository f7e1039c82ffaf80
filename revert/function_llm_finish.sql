-- Revert skeldir:function_llm_finish from pg
BEGIN;

DROP FUNCTION skeldir._llm_call_json(skeldir.llm_api_calls);
DROP FUNCTION skeldir._llm_message_done(bigint);
DROP FUNCTION skeldir._llm_finish(uuid, bigint, text, text, boolean, integer, integer, double precision, jsonb, text, bigint);

COMMIT;
