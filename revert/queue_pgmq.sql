-- Revert skeldir:queue_pgmq from pg
BEGIN;

SET LOCAL client_min_messages = warning;
DROP SCHEMA pgmq CASCADE;

COMMIT;
