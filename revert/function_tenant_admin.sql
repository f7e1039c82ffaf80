-- Revert skeldir:function_tenant_admin from pg
BEGIN;

DROP FUNCTION api.tenant_secret_rotate(text, text, text, interval);
DROP FUNCTION api.tenant_secret_set(text, text, text, text);
DROP FUNCTION skeldir._secret_check(text, text);
DROP FUNCTION skeldir._tenant_lookup(text);
DROP FUNCTION api.tenant_create(text);
DROP FUNCTION skeldir._secret_generate(text);

COMMIT;
