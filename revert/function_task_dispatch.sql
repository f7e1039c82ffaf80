-- Revert skeldir:function_task_dispatch from pg
BEGIN;

-- Restore the dispatcher of function_task_run.
/**
 * Runs one task by name. Every handler is idempotent. Raises 22023 for an unknown task
 * and SK500 for poison_pill, which always fails so that the failure path is provable.
 */
CREATE OR REPLACE FUNCTION skeldir._task_dispatch(queue text, message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    CASE message ->> 'task'
    WHEN 'allocate' THEN
        PERFORM skeldir._task_allocate(message);
    WHEN 'refresh_matviews' THEN
        PERFORM skeldir.matview_refresh_dirty(coalesce(message ->> 'trigger', 'task'));
    WHEN 'noop' THEN
        NULL;  -- does nothing: the baseline of scripts/bench_worker and pgmq round trips
    WHEN 'poison_pill' THEN
        RAISE EXCEPTION 'poison pill: this task always fails' USING ERRCODE = 'SK500';
    ELSE
        RAISE EXCEPTION 'unknown task %', coalesce(message ->> 'task', '(none)')
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('queue %s', queue);
    END CASE;
END;
$$;
COMMENT ON FUNCTION skeldir._task_dispatch(text, jsonb) IS
    'Task name -> SQL handler (allocate, refresh_matviews, noop, poison_pill). Raises 22023 unknown task, SK500 poison_pill.';

DROP FUNCTION skeldir._task_refresh_matviews(jsonb);

COMMIT;
