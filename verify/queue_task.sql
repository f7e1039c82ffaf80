-- Verify skeldir:queue_task on pg
SELECT 1 / (pg_catalog.count(*) / 4)::integer
  FROM pgmq.meta
 WHERE queue_name IN ('attribution', 'maintenance', 'llm', 'housekeeping');
