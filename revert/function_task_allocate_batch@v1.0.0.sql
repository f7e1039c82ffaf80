-- Revert skeldir:function_task_allocate_batch from pg
BEGIN;

DROP FUNCTION skeldir._allocate_batch(uuid, bigint[]);

COMMIT;
