-- Verify skeldir:function_session_identity on pg
SELECT role_name, is_superuser, bypass_rls, owned_objects FROM api.session_identity() WHERE false;
SELECT 1 / pg_catalog.has_function_privilege('app_user', 'api.session_identity()', 'EXECUTE')::integer;
SELECT 1 / (NOT pg_catalog.has_function_privilege('public', 'api.session_identity()', 'EXECUTE'))::integer;
SELECT 1 / (owned_objects > 0)::integer FROM api.session_identity();  -- migration_owner, running this, owns the schema
