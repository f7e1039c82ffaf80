-- Deploy skeldir:function_task_dispatch to pg
BEGIN;

/**
 * The `refresh_matviews` task: refreshes the dirty views, then, if a view is still dirty
 * (a write landed during its refresh, or another refresh held its lock, such as the pg_cron
 * pulse whose snapshot may predate that write), makes sure one follow-up task waits in the
 * maintenance queue, as a batch flush would. Views whose refresh failed are left to the
 * minute pulse, so a broken view is not retried in a tight loop (the failure is logged).
 */
CREATE FUNCTION skeldir._task_refresh_matviews(message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _failed text[];
BEGIN
    SELECT coalesce(pg_catalog.array_agg(r.view_name) FILTER (WHERE r.outcome = 'error'), '{}') INTO _failed
      FROM skeldir.matview_refresh_dirty(coalesce(message ->> 'trigger', 'task')) AS r;
    IF EXISTS (SELECT FROM skeldir.matview_state AS s WHERE s.dirty AND s.view_name <> ALL (_failed)) THEN
        PERFORM skeldir._matview_refresh_enqueue();
    END IF;
END;
$$;
COMMENT ON FUNCTION skeldir._task_refresh_matviews(jsonb) IS
    'Maintenance task: refresh dirty matviews; enqueue a follow-up while a view stays dirty.';

/**
 * Runs one task by name. Every handler is idempotent. attribution: allocate (allocation
 * and reconciliation of its order_ref); maintenance: refresh_matviews, reconcile_due;
 * housekeeping: housekeeping; any queue: noop (does nothing) and poison_pill (always fails,
 * to prove the failure path). Raises 22023 for an unknown task and SK500 for poison_pill.
 */
CREATE FUNCTION skeldir._task_dispatch(queue text, message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    CASE message ->> 'task'
    WHEN 'allocate' THEN
        PERFORM skeldir._task_allocate(message);
    WHEN 'refresh_matviews' THEN
        PERFORM skeldir._task_refresh_matviews(message);
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
