-- Revert skeldir:function_queue_metrics from pg
BEGIN;

DROP FUNCTION api.queue_metrics();

COMMIT;
