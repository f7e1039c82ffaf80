-- Verify skeldir:function_allocation on pg
SELECT 'skeldir._allocation_split(bigint, text[], bigint[])'::regprocedure,
       'skeldir._allocation_model(bigint, text, text[])'::regprocedure,
       'skeldir._touchpoints(skeldir.attribution_events, text)'::regprocedure;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc
 WHERE oid = 'skeldir._task_allocate(jsonb)'::regprocedure AND prosrc LIKE '%_allocation_model%';
