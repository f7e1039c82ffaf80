-- Verify skeldir:function_task_dispatch on pg
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc
 WHERE oid = 'skeldir._task_dispatch(text, jsonb)'::regprocedure AND prosrc LIKE '%reconcile_due%';
SELECT 'skeldir._task_refresh_matviews(jsonb)'::regprocedure;
