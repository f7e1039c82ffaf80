-- Revert skeldir:table_llm_api_call from pg
BEGIN;

DROP TABLE skeldir.llm_api_calls;

COMMIT;
