-- Dashboard: monthly LLM spend of the current tenant (UTC months, newest first).
-- routed_calls: calls that budget pressure (spend past budget_pressure_usd) sent to a cheaper model.
-- Run: skeldir dashboard llm_monthly_spend --tenant <tenant id>   (see docs/dashboards.md)
SELECT s.month,
       s.calls,
       s.provider_calls,
       s.cached_calls,
       s.blocked_calls,
       s.failed_calls,
       s.routed_calls,
       s.input_tokens,
       s.output_tokens,
       s.cost_usd,
       s.monthly_budget_usd,
       round(100 * s.cost_usd / nullif(s.monthly_budget_usd, 0), 2) AS budget_used_pct,
       s.budget_pressure_usd
  FROM api.llm_monthly_spend AS s
 ORDER BY s.month DESC;
