-- Revert skeldir:function_task_run from pg
BEGIN;

DROP FUNCTION api.worker_stopped(uuid);
DROP FUNCTION api.worker_heartbeat(uuid, integer, text, text[], timestamptz);
DROP FUNCTION skeldir._matview_flush();
DROP FUNCTION skeldir.matview_pulse();
DROP FUNCTION skeldir._matview_refresh_enqueue();
DROP FUNCTION skeldir._uuid_or_nil(text);

COMMIT;
