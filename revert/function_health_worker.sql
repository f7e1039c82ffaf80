-- Revert skeldir:function_health_worker from pg
BEGIN;

DROP FUNCTION api.health_worker(bigint, interval);
DROP FUNCTION api.worker_probe_answer();
DROP FUNCTION api.worker_probe_send();

COMMIT;
