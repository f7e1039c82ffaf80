-- Verify skeldir:table_llm_budget_job on pg
SELECT tenant_id, id, call_id, request_id, status, result, created_at, completed_at
  FROM skeldir.llm_budget_jobs
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.llm_budget_jobs'::regclass AND relrowsecurity AND relforcerowsecurity;
