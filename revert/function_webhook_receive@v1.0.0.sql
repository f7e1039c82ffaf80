-- Revert skeldir:function_webhook_receive from pg
BEGIN;

DROP FUNCTION api.webhook_paypal_keys(text, text);
DROP FUNCTION api.webhook_receive(text, text, jsonb, bytea, text);
DROP FUNCTION skeldir._webhook_refused(text, text, jsonb, bytea, text, text, text);
DROP FUNCTION skeldir._webhook_receive(text, text, jsonb, bytea, text);
DROP FUNCTION skeldir._tenant_resolve(text, jsonb, text);
DROP FUNCTION skeldir._signature_valid(text, jsonb, bytea, text[], text, interval);
DROP FUNCTION skeldir._ingest_document(uuid, text, text, jsonb, jsonb, bytea, integer, bigint);
DROP FUNCTION skeldir._ingest_count(uuid, text, text);
DROP FUNCTION skeldir._dead_letter(uuid, text, text, jsonb, jsonb, bytea, integer, text, text, bigint);
DROP FUNCTION skeldir._routing_headers(jsonb);

COMMIT;
