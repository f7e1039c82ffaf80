-- Revert skeldir:function_webhook_map_woocommerce from pg
BEGIN;

DROP FUNCTION skeldir._project_woocommerce(jsonb);
DROP FUNCTION skeldir._map_woocommerce(jsonb, jsonb);

COMMIT;
