-- Revert skeldir:function_tenant_guc from pg
BEGIN;

DROP FUNCTION api.tenant_set(uuid);
DROP FUNCTION skeldir.current_tenant_id();

COMMIT;
