-- Revert skeldir:function_task_dispatch from pg
BEGIN;

DROP FUNCTION skeldir._task_dispatch(text, jsonb);
DROP FUNCTION skeldir._task_refresh_matviews(jsonb);

COMMIT;
