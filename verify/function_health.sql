-- Verify skeldir:function_health on pg
SELECT 1 / (rls_forced AND tenant_guc)::integer FROM api.health_ready();
SELECT 1 / pg_catalog.has_function_privilege('app_user', 'api.health_ready()', 'EXECUTE')::integer;
SELECT 1 / (NOT pg_catalog.has_function_privilege('public', 'api.health_ready()', 'EXECUTE'))::integer;
