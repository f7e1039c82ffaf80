-- Revert skeldir:function_webhook_field from pg
BEGIN;

DROP FUNCTION skeldir._decimal(jsonb, text);
DROP FUNCTION skeldir._timestamp(jsonb, text);
DROP FUNCTION skeldir._query_param(text, text);
DROP FUNCTION skeldir._minor_integer(jsonb, text);
DROP FUNCTION skeldir._minor_units(text, text);
DROP FUNCTION skeldir._currency(text);
DROP FUNCTION skeldir._optional_ident(jsonb, text);
DROP FUNCTION skeldir._ident(jsonb, text);
DROP FUNCTION skeldir._text(jsonb, text);
DROP FUNCTION skeldir._field(jsonb, text, text);
DROP TYPE skeldir.webhook_event;

COMMIT;
