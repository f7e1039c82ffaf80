-- Verify skeldir:table_tenant_secret on pg
SELECT tenant_id, vendor, secret, previous_secret, previous_expires_at,
       paypal_webhook_id, updated_at
  FROM skeldir.tenant_secrets
 WHERE false;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.tenant_secrets', 'SELECT') THEN
        RAISE EXCEPTION 'app_user can read skeldir.tenant_secrets' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
