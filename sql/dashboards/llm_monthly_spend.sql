-- Dashboard: monthly LLM spend of the current tenant (UTC months, newest first).
-- Run: skeldir dashboard llm_monthly_spend --tenant <tenant id>   (see docs/dashboards.md)
SELECT s.month,
       s.calls,
       s.provider_calls,
       s.cached_calls,
       s.blocked_calls,
       s.failed_calls,
       s.input_tokens,
       s.output_tokens,
       s.cost_usd,
       s.monthly_budget_usd,
       round(100 * s.cost_usd / nullif(s.monthly_budget_usd, 0), 2) AS budget_used_pct
  FROM api.llm_monthly_spend AS s
 ORDER BY s.month DESC;
