-- Deploy skeldir:function_task_allocate to pg
BEGIN;

/**
 * The `allocate` task: splits one event's amount across channels by its tenant's model
 * and marks the revenue views dirty. Idempotent: a redelivered task finds the rows and
 * writes nothing. Raises P0002 when the event does not exist (retried, then captured).
 * Runs with the tenant GUC set by the task runner, so RLS scopes every read and write.
 */
CREATE FUNCTION skeldir._task_allocate(message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _e skeldir.attribution_events;
BEGIN
    SELECT * INTO _e
      FROM skeldir.attribution_events AS e
     WHERE e.tenant_id = (message ->> 'tenant_id')::uuid
       AND e.id = (message ->> 'event_id')::bigint;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % of tenant % not found', message ->> 'event_id', message ->> 'tenant_id'
            USING ERRCODE = 'no_data_found';
    END IF;

    -- Last touch: the event's own attribution fields carry its last touch.
    INSERT INTO skeldir.allocations (tenant_id, event_id, kind, channel, model, amount_minor, currency, occurred_at)
    VALUES (_e.tenant_id, _e.id, _e.kind, skeldir._channel(_e.utm_source, _e.utm_medium, _e.referrer),
            'last_touch', _e.amount_minor, _e.currency, _e.occurred_at)
    ON CONFLICT DO NOTHING;

    PERFORM skeldir._matview_touch('{mv_daily_revenue_summary}');
END;
$$;
COMMENT ON FUNCTION skeldir._task_allocate(jsonb) IS
    'Attribution task: allocate an event to channels (idempotent). Raises P0002 for a missing event.';

COMMIT;
