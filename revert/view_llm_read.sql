-- Revert skeldir:view_llm_read from pg
BEGIN;

DROP VIEW api.llm_breakers;
DROP VIEW api.llm_spend_state;
DROP VIEW api.llm_budget_jobs;
DROP VIEW api.llm_investigations;
DROP VIEW api.llm_monthly_spend;
DROP VIEW api.llm_calls;

COMMIT;
