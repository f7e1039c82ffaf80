-- Revert skeldir:function_signature from pg
BEGIN;

DROP FUNCTION skeldir._stripe_signature_valid(text, bytea, text[], interval);
DROP FUNCTION skeldir._secure_equal(bytea, bytea);

COMMIT;
