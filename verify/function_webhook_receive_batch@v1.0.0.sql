-- Verify skeldir:function_webhook_receive_batch on pg
DO $$
BEGIN
    IF NOT pg_catalog.has_function_privilege('app_user',
              'api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public',
              'api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval)', 'EXECUTE') THEN
        RAISE EXCEPTION 'api.webhook_receive_batch: wrong EXECUTE grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
