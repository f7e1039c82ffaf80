-- Revert skeldir:function_pii from pg
BEGIN;

DROP FUNCTION skeldir._customer_ref(text);
DROP FUNCTION skeldir._keep_attribution(jsonb);
DROP FUNCTION skeldir._keep_shape(jsonb);
DROP FUNCTION skeldir._keep_scalar(jsonb);
DROP FUNCTION skeldir._keep_text(jsonb);
DROP FUNCTION skeldir._redact_text(text);

COMMIT;
