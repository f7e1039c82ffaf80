-- Verify skeldir:function_task_allocate on pg
SELECT 'skeldir._task_allocate(jsonb)'::regprocedure;
