-- Verify skeldir:function_task_allocate on pg
-- The reworked allocate task marks no view dirty (the read models take deltas at commit).
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc
 WHERE oid = 'skeldir._task_allocate(jsonb)'::regprocedure AND prosrc LIKE '%_allocation_model%'
   AND prosrc NOT LIKE '%_matview_touch%';
