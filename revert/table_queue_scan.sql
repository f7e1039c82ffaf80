-- Revert skeldir:table_queue_scan from pg
BEGIN;

DROP TABLE skeldir.queue_scan;

COMMIT;
