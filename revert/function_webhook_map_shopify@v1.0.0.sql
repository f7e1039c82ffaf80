-- Revert skeldir:function_webhook_map_shopify from pg
BEGIN;

DROP FUNCTION skeldir._project_shopify(jsonb);
DROP FUNCTION skeldir._project_shopify_refund(jsonb);
DROP FUNCTION skeldir._map_shopify(jsonb, jsonb);
DROP FUNCTION skeldir._shopify_refund(jsonb, text, text);

COMMIT;
