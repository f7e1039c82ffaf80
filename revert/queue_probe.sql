-- Revert skeldir:queue_probe from pg
BEGIN;

SET LOCAL client_min_messages = warning;

SELECT pgmq.drop_queue('probe');

COMMIT;
