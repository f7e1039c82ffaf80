-- Deploy skeldir:queue_probe to pg
BEGIN;

SET LOCAL client_min_messages = warning;

-- A small queue of its own for /health/worker: the shell sends a probe, a worker archives
-- it. Kept apart from the task queues so that a probe never waits behind a backlog of work
-- and never counts as a task. Inserts notify, as on the task queues.
SELECT pgmq.create('probe'), pgmq.enable_notify_insert('probe', 250);

COMMIT;
