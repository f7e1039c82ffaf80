-- Revert skeldir:table_llm_investigation from pg
BEGIN;

DROP TABLE skeldir.llm_investigations;

COMMIT;
