-- Revert skeldir:function_llm_record from pg
BEGIN;

DROP FUNCTION api.llm_record(bigint, uuid, bigint, text, integer, integer, double precision, jsonb, text);

COMMIT;
