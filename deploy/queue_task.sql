-- Deploy skeldir:queue_task to pg
BEGIN;

SET LOCAL client_min_messages = warning;

-- The four task queues of SPEC §6. Inserts notify listeners (throttled to one NOTIFY per
-- 250 ms per queue so that a burst does not serialize on the throttle row); the worker
-- also polls, so a suppressed notification only delays, never loses, a message.
SELECT pgmq.create(q.name), pgmq.enable_notify_insert(q.name, 250)
  FROM pg_catalog.unnest('{attribution,maintenance,llm,housekeeping}'::text[]) AS q (name);

COMMIT;
