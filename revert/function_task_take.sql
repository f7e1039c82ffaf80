-- Revert skeldir:function_task_take from pg
BEGIN;

DROP FUNCTION api.task_run_batch(text, integer);
DROP FUNCTION skeldir._task_run(text, pgmq.message_record, skeldir.settings);
DROP FUNCTION skeldir._task_archive(text, bigint[], timestamptz);
DROP FUNCTION skeldir._task_take(text, integer);
DROP FUNCTION skeldir._queue_scan_advance(text, interval);

COMMIT;
