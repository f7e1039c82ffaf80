-- Verify skeldir:function_task_allocate_batch on pg
SELECT 'skeldir._allocate_batch(uuid, bigint[])'::regprocedure;
-- The batch runner is the one that calls it, not function_task_run's.
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid = 'api.task_run_batch(text, integer)'::regprocedure AND p.prosrc LIKE '%skeldir._allocate_batch(%';
