-- Revert skeldir:table_llm_tenant_limit from pg
BEGIN;

DROP TABLE skeldir.llm_tenant_limits;

COMMIT;
