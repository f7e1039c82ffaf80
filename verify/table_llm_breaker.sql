-- Verify skeldir:table_llm_breaker on pg
SELECT provider, state, consecutive_failures, opened_at, trial_started_at, updated_at
  FROM skeldir.llm_breakers
 WHERE false;
