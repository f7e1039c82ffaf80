-- Verify skeldir:function_task_allocate_batch on pg
-- The reworked set-based pass marks no view dirty (the read models take deltas at commit).
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc
 WHERE oid = 'skeldir._allocate_batch(uuid, bigint[])'::regprocedure AND prosrc NOT LIKE '%_matview_touch%';
