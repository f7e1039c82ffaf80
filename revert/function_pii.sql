-- Revert skeldir:function_pii from pg
BEGIN;

DROP FUNCTION skeldir._customer_ref(text);
DROP FUNCTION skeldir._redact_member(jsonb);
DROP FUNCTION skeldir._redact(jsonb);
DROP FUNCTION skeldir._redact_text(text);
DROP FUNCTION skeldir._pii_key(text);

COMMIT;
