-- Revert skeldir:function_llm_request from pg
BEGIN;

DROP FUNCTION api.llm_call_http(text, text);
DROP FUNCTION api.llm_request(text, text, jsonb, text);
DROP FUNCTION api.llm_request_http(text, text, text, bytea);
DROP FUNCTION skeldir._llm_request(uuid, text, text, text, jsonb);
DROP FUNCTION skeldir._llm_tenant_by_key(text);

COMMIT;
