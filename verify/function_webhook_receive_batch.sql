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
SELECT 'skeldir._ingest_store_batch(integer[], skeldir.webhook_event[], text[], uuid[], jsonb[], text[], text[], jsonb[], bytea[], text[], integer[], text[], text[], text[])'::regprocedure,
       'skeldir._webhook_failed(text, text, jsonb, bytea, text, text, text)'::regprocedure;
