-- Dashboard: LLM cache hit rate of the current tenant, per UTC day and task, last 30 days.
-- cache_hit_rate = cached / (cached + provider successes): the share of answers served
-- without a provider call.
SELECT (c.completed_at AT TIME ZONE 'UTC')::date AS day,
       c.task,
       count(*) AS calls,
       count(*) FILTER (WHERE c.status = 'cached') AS cached,
       count(*) FILTER (WHERE c.status = 'success') AS provider_successes,
       round(count(*) FILTER (WHERE c.status = 'cached')::numeric
             / nullif(count(*) FILTER (WHERE c.status IN ('cached', 'success')), 0), 4) AS cache_hit_rate
  FROM api.llm_calls AS c
 WHERE c.completed_at >= now() - interval '30 days'
 GROUP BY 1, 2
 ORDER BY 1 DESC, 2;
