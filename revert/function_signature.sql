-- Revert skeldir:function_signature from pg
BEGIN;

DROP FUNCTION skeldir._paypal_attestation_valid(jsonb, bytea, text[], text, interval);
DROP FUNCTION skeldir._standard_signature_valid(jsonb, bytea, text[], interval);
DROP FUNCTION skeldir._html_entity_decode(text);
DROP FUNCTION skeldir._hmac_base64_valid(text, bytea, text[]);
DROP FUNCTION skeldir._stripe_signature_valid(text, bytea, text[], interval);
DROP FUNCTION skeldir._header(jsonb, text);
DROP FUNCTION skeldir._secure_equal(bytea, bytea);

COMMIT;
