-- Verify skeldir:table_llm_investigation on pg
SELECT tenant_id, id, call_id, request_id, status, findings, created_at, completed_at
  FROM skeldir.llm_investigations
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.llm_investigations'::regclass AND relrowsecurity AND relforcerowsecurity;
