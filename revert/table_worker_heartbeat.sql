-- Revert skeldir:table_worker_heartbeat from pg
BEGIN;

DROP TABLE skeldir.worker_heartbeats;

COMMIT;
