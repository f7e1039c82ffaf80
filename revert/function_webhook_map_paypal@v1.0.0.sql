-- Revert skeldir:function_webhook_map_paypal from pg
BEGIN;

DROP FUNCTION skeldir._project_paypal(jsonb);
DROP FUNCTION skeldir._map_paypal(jsonb, jsonb);

COMMIT;
