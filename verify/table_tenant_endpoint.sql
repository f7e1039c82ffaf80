-- Verify skeldir:table_tenant_endpoint on pg
SELECT tenant_id, vendor, token, created_at FROM skeldir.tenant_endpoints WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.tenant_endpoints'::regclass AND relrowsecurity AND relforcerowsecurity;
