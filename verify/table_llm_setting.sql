-- Verify skeldir:table_llm_setting on pg
SELECT singleton, kill_switch, breaker_failure_threshold, breaker_cooldown, cache_ttl, call_timeout_ms,
       max_deliveries, redelivery_margin, default_model, default_hourly_shutoff_usd, default_monthly_budget_usd,
       budget_pressure_share,
       prompt_hash_key, updated_at
  FROM skeldir.llm_settings
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer FROM skeldir.llm_settings;
