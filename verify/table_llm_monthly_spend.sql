-- Verify skeldir:table_llm_monthly_spend on pg
SELECT tenant_id, month, calls, provider_calls, cached_calls, blocked_calls, failed_calls, routed_calls, input_tokens,
       output_tokens, cost_usd, updated_at
  FROM skeldir.llm_monthly_spend
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.llm_monthly_spend'::regclass AND relrowsecurity AND relforcerowsecurity;
