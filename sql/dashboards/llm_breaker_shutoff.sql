-- Dashboard: LLM controls. Global rows (every tenant sees them): the kill switch and each
-- provider's circuit breaker. Tenant rows (only for a tenant with LLM calls this month):
-- its hourly shutoff, monthly budget and budget pressure (routing_down: calls for a model
-- with a cheaper model go to that one), current value against threshold.
SELECT 'global' AS scope, 'kill_switch' AS control,
       CASE WHEN b.kill_switch THEN 'on' ELSE 'off' END AS state,
       NULL::numeric AS current_value, NULL::numeric AS threshold, NULL::timestamptz AS since
  FROM (SELECT bool_or(kill_switch) AS kill_switch FROM api.llm_breakers) AS b
UNION ALL
SELECT 'global', 'breaker:' || b.provider, b.state,
       b.consecutive_failures, b.failure_threshold,
       CASE b.state WHEN 'open' THEN b.opened_at WHEN 'half_open' THEN b.trial_started_at END
  FROM api.llm_breakers AS b
UNION ALL
SELECT 'tenant', 'hourly_shutoff', CASE WHEN s.hourly_shutoff_active THEN 'shut_off' ELSE 'ok' END,
       s.hourly_spend_usd, s.hourly_shutoff_usd, NULL
  FROM api.llm_spend_state AS s
 WHERE EXISTS (SELECT FROM api.llm_monthly_spend AS m WHERE m.month = date_trunc('month', now() AT TIME ZONE 'UTC'))
UNION ALL
SELECT 'tenant', 'monthly_budget', CASE WHEN s.budget_exceeded THEN 'exceeded' ELSE 'ok' END,
       s.month_spend_usd, s.monthly_budget_usd, NULL
  FROM api.llm_spend_state AS s
 WHERE EXISTS (SELECT FROM api.llm_monthly_spend AS m WHERE m.month = date_trunc('month', now() AT TIME ZONE 'UTC'))
UNION ALL
SELECT 'tenant', 'budget_pressure', CASE WHEN s.budget_pressure THEN 'routing_down' ELSE 'ok' END,
       s.month_spend_usd, s.budget_pressure_usd, NULL
  FROM api.llm_spend_state AS s
 WHERE EXISTS (SELECT FROM api.llm_monthly_spend AS m WHERE m.month = date_trunc('month', now() AT TIME ZONE 'UTC'))
 ORDER BY 1, 2;
