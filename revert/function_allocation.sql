-- Revert skeldir:function_allocation from pg
BEGIN;

-- Restore the last-touch-only handler of function_task_allocate.
CREATE OR REPLACE FUNCTION skeldir._task_allocate(message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
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

DROP FUNCTION skeldir._touchpoints(skeldir.attribution_events, text);
DROP FUNCTION skeldir._allocation_model(bigint, text, text[]);
DROP FUNCTION skeldir._allocation_split(bigint, text[], bigint[]);

COMMIT;
