-- Verify skeldir:function_webhook_receive on pg
SELECT 'skeldir._webhook_receive(text, text, jsonb, bytea, text)'::regprocedure;
SELECT 'skeldir._routing_headers(jsonb)'::regprocedure,
       'skeldir._dead_letter(uuid, text, text, jsonb, jsonb, bytea, integer, text, text, bigint)'::regprocedure,
       'skeldir._ingest_count(uuid, text, text)'::regprocedure,
       'skeldir._ingest_document(uuid, text, text, jsonb, jsonb, bytea, integer, bigint)'::regprocedure,
       'skeldir._signature_valid(text, jsonb, bytea, text[], text, interval)'::regprocedure,
       'skeldir._tenant_resolve(text, jsonb, text)'::regprocedure,
       'skeldir._webhook_refused(text, text, jsonb, bytea, text, text, text)'::regprocedure,
       'skeldir._ingest_map(uuid, text, text, jsonb, jsonb, bytea, integer, bigint)'::regprocedure,
       'skeldir._ingest_store(uuid, text, text, skeldir.webhook_event[], jsonb, bigint)'::regprocedure,
       'skeldir._webhook_prepare(text, text, jsonb, bytea, text)'::regprocedure;
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY ARRAY['api.webhook_receive(text, text, jsonb, bytea, text)', 'api.webhook_paypal_keys(text, text)'] LOOP
        IF NOT pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION '%: wrong EXECUTE grants', _fn USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
