-- Revert skeldir:function_tenant_read from pg
BEGIN;

DROP FUNCTION api.tenant_read(text, text, jsonb);
DROP FUNCTION skeldir._param_int(text, text, integer, integer, integer);
DROP FUNCTION skeldir._param_date(text, text, date);

COMMIT;
