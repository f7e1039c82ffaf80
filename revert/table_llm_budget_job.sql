-- Revert skeldir:table_llm_budget_job from pg
BEGIN;

DROP TABLE skeldir.llm_budget_jobs;

COMMIT;
