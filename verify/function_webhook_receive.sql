-- Verify skeldir:function_webhook_receive on pg
SELECT 'skeldir._routing_headers(jsonb)'::regprocedure,
       'skeldir._dead_letter(uuid, text, text, jsonb, jsonb, bytea, integer, text, text)'::regprocedure,
       'skeldir._ingest_count(uuid, text, text)'::regprocedure,
       'skeldir._ingest_document(uuid, text, text, jsonb, jsonb, bytea, integer, bigint)'::regprocedure,
       'skeldir._signature_valid(text, jsonb, bytea, text[])'::regprocedure;
DO $$
BEGIN
    IF NOT pg_catalog.has_function_privilege('app_user', 'api.webhook_receive(text, text, jsonb, bytea, text)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', 'api.webhook_receive(text, text, jsonb, bytea, text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'api.webhook_receive: wrong EXECUTE grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
