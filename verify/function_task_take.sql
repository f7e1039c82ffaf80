-- Verify skeldir:function_task_take on pg
SELECT 'skeldir._queue_scan_advance(text, interval)'::regprocedure, 'skeldir._task_take(text, integer)'::regprocedure,
       'skeldir._task_archive(text, bigint[], timestamptz)'::regprocedure;
SELECT 'skeldir._task_run(text, pgmq.message_record, skeldir.settings)'::regprocedure;
-- The batch runner takes messages without pgmq.read's visibility-timeout UPDATE, and runs the
-- allocate tasks set-based.
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid = 'api.task_run_batch(text, integer)'::regprocedure AND p.prosrc LIKE '%skeldir._task_take(%'
   AND p.prosrc NOT LIKE '%pgmq.read(%' AND p.prosrc LIKE '%skeldir._allocate_batch(%';
-- The take's and the archive's plans are pinned to the primary key's index.
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid = 'skeldir._task_take(text, integer)'::regprocedure
   AND p.proconfig @> '{enable_seqscan=off,enable_bitmapscan=off,enable_sort=off}';
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid = 'skeldir._task_archive(text, bigint[], timestamptz)'::regprocedure
   AND p.proconfig @> '{enable_seqscan=off}';
DO $$
BEGIN
    IF NOT pg_catalog.has_function_privilege('app_user', 'api.task_run_batch(text, integer)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', 'api.task_run_batch(text, integer)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('app_user', 'skeldir._task_take(text, integer)', 'EXECUTE') THEN
        RAISE EXCEPTION 'task runner: wrong EXECUTE grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
