-- Revert skeldir:function_tenant_admin from pg
BEGIN;

DROP FUNCTION api.tenant_create(text);

COMMIT;
