-- Revert skeldir:function_task_allocate from pg
BEGIN;

DROP FUNCTION skeldir._task_allocate(jsonb);

COMMIT;
