-- Revert skeldir:table_tenant_endpoint from pg
BEGIN;

DROP TABLE skeldir.tenant_endpoints;

COMMIT;
