-- Verify skeldir:table_llm_tenant_limit on pg
SELECT tenant_id, hourly_shutoff_usd, monthly_budget_usd, updated_at
  FROM skeldir.llm_tenant_limits
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.llm_tenant_limits'::regclass AND relrowsecurity AND relforcerowsecurity;
