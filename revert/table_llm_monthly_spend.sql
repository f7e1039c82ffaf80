-- Revert skeldir:table_llm_monthly_spend from pg
BEGIN;

DROP TABLE skeldir.llm_monthly_spend;

COMMIT;
