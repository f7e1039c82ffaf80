-- Revert skeldir:function_webhook_map_stripe from pg
BEGIN;

DROP FUNCTION skeldir._project_stripe(jsonb);
DROP FUNCTION skeldir._map_stripe(jsonb, jsonb);

COMMIT;
