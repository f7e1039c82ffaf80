-- Verify skeldir:table_llm_api_call on pg
SELECT tenant_id, id, request_id, user_id, task, prompt_hash, prompt_chars, provider, model, requested_model, status,
       blocked_reason, provider_attempted, input_tokens, output_tokens, cost_usd, latency_ms, cached_from,
       deliveries, result, error, requested_at, completed_at
  FROM skeldir.llm_api_calls
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.llm_api_calls'::regclass AND relrowsecurity AND relforcerowsecurity;
