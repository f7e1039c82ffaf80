-- Revert skeldir:function_health from pg
BEGIN;

DROP FUNCTION api.health_ready();

COMMIT;
