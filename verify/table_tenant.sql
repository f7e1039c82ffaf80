-- Verify skeldir:table_tenant on pg
SELECT id, slug, name, api_key_hash, status, allocation_model, created_at
  FROM skeldir.tenants
 WHERE false;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.tenants', 'SELECT') THEN
        RAISE EXCEPTION 'app_user can read skeldir.tenants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
