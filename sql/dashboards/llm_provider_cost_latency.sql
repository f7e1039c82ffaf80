-- Dashboard: provider cost and latency distribution of the current tenant's provider
-- calls (success, error, timeout; cached and blocked calls reach no provider), last 7 days,
-- per model called and model requested (they differ when budget pressure routed the call).
SELECT c.provider,
       c.model,
       c.requested_model,
       count(*) AS calls,
       count(*) FILTER (WHERE c.status = 'error') AS errors,
       count(*) FILTER (WHERE c.status = 'timeout') AS timeouts,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.latency_ms)::numeric, 1) AS latency_p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY c.latency_ms)::numeric, 1) AS latency_p95_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.cost_usd)::numeric, 8) AS cost_p50_usd,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY c.cost_usd)::numeric, 8) AS cost_p95_usd,
       sum(c.cost_usd) AS cost_total_usd
  FROM api.llm_calls AS c
 WHERE c.provider_attempted
   AND c.completed_at >= now() - interval '7 days'
 GROUP BY c.provider, c.model, c.requested_model
 ORDER BY c.provider, c.model, c.requested_model;
