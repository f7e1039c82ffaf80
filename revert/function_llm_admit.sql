-- Revert skeldir:function_llm_admit from pg
BEGIN;

DROP FUNCTION api.llm_admit_batch(integer);
DROP FUNCTION skeldir._llm_admit(skeldir.llm_api_calls);

COMMIT;
