-- Revert skeldir:function_webhook_map_standard from pg
BEGIN;

DROP FUNCTION skeldir._project_standard(jsonb);
DROP FUNCTION skeldir._map_standard(jsonb, jsonb);

COMMIT;
