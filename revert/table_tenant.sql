-- Revert skeldir:table_tenant from pg
BEGIN;

DROP TABLE skeldir.tenants;

COMMIT;
