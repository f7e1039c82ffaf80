-- Verify skeldir:view_llm_read on pg
SELECT call_id, request_id, user_id, task, status, blocked_reason, provider, model, requested_model, provider_attempted,
       input_tokens, output_tokens, cost_usd, latency_ms, cached_from, deliveries, result, error,
       requested_at, completed_at
  FROM api.llm_calls WHERE false;
SELECT month, calls, provider_calls, cached_calls, blocked_calls, failed_calls, routed_calls, input_tokens,
       output_tokens, cost_usd, monthly_budget_usd, budget_pressure_usd
  FROM api.llm_monthly_spend WHERE false;
SELECT investigation_id, call_id, request_id, status, findings, created_at, completed_at FROM api.llm_investigations WHERE false;
SELECT job_id, call_id, request_id, status, result, created_at, completed_at FROM api.llm_budget_jobs WHERE false;
SELECT hourly_spend_usd, hourly_shutoff_usd, hourly_shutoff_active, month_spend_usd, monthly_budget_usd, budget_exceeded,
       budget_pressure_usd, budget_pressure
  FROM api.llm_spend_state WHERE false;
SELECT provider, state, consecutive_failures, failure_threshold, opened_at, half_open_after, trial_started_at,
       kill_switch, updated_at
  FROM api.llm_breakers WHERE false;
DO $$
DECLARE
    _view text;
BEGIN
    FOREACH _view IN ARRAY '{api.llm_calls,api.llm_monthly_spend,api.llm_investigations,api.llm_budget_jobs,api.llm_spend_state,api.llm_breakers}'::text[] LOOP
        IF NOT pg_catalog.has_table_privilege('app_ro', _view, 'SELECT')
           OR NOT pg_catalog.has_table_privilege('app_user', _view, 'SELECT')
           OR pg_catalog.has_table_privilege('public', _view, 'SELECT') THEN
            RAISE EXCEPTION '%: wrong SELECT grants', _view USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
