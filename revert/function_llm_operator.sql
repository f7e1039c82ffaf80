-- Revert skeldir:function_llm_operator from pg
BEGIN;

DROP FUNCTION api.llm_breaker_reset(text);
DROP FUNCTION api.llm_tenant_limits_set(uuid, numeric, numeric);
DROP FUNCTION api.llm_kill_switch_set(boolean);

COMMIT;
