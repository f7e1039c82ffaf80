-- Verify skeldir:function_task_allocate_batch on pg
SELECT 'skeldir._allocate_batch(uuid, bigint[])'::regprocedure;
