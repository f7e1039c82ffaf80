-- Deploy skeldir:function_task_dispatch to pg
BEGIN;

/**
 * Runs one task by name; replaces the dispatcher of function_task_run. Every handler is
 * idempotent. attribution: allocate (allocation and reconciliation of its order_ref);
 * maintenance: refresh_matviews, reconcile_due; housekeeping: housekeeping; any queue:
 * noop (does nothing) and poison_pill (always fails, to prove the failure path). Raises
 * 22023 for an unknown task and SK500 for poison_pill.
 */
CREATE OR REPLACE FUNCTION skeldir._task_dispatch(queue text, message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    CASE message ->> 'task'
    WHEN 'allocate' THEN
        PERFORM skeldir._task_allocate(message);
    WHEN 'refresh_matviews' THEN
        PERFORM skeldir.matview_refresh_dirty(coalesce(message ->> 'trigger', 'task'));
    WHEN 'reconcile_due' THEN
        PERFORM skeldir.reconciliation_reevaluate();
    WHEN 'housekeeping' THEN
        PERFORM skeldir.housekeeping_run();
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
    'Task name -> SQL handler (allocate, refresh_matviews, reconcile_due, housekeeping, noop, poison_pill). Raises 22023, SK500.';

COMMIT;
