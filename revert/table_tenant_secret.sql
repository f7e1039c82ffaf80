-- Revert skeldir:table_tenant_secret from pg
BEGIN;

DROP TABLE skeldir.tenant_secrets;

COMMIT;
