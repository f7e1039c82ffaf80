-- Revert skeldir:table_llm_breaker from pg
BEGIN;

DROP TABLE skeldir.llm_breakers;

COMMIT;
