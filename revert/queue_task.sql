-- Revert skeldir:queue_task from pg
BEGIN;

SET LOCAL client_min_messages = warning;

SELECT pgmq.drop_queue(q.name)
  FROM pg_catalog.unnest('{attribution,maintenance,llm,housekeeping}'::text[]) AS q (name);

COMMIT;
