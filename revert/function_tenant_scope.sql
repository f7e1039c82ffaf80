-- Revert skeldir:function_tenant_scope from pg
BEGIN;

DROP FUNCTION api.tenant_scope(text);

COMMIT;
