-- Deploy skeldir:function_task_allocate to pg
BEGIN;

/**
 * The `allocate` task, run with the tenant GUC set by the task runner (RLS scopes every read
 * and write). Orders and payments are split by the tenant's model over skeldir._touchpoints. A
 * refund reverses proportionally: it is split by the allocation of the event it refunds (the
 * tenant's earliest order or payment with the same payment_ref, else the same order_ref),
 * weights being that allocation's amounts, under that allocation's model; when that event
 * exists but is not yet allocated the task raises SK409 and is retried; a refund of nothing
 * known is split by the model like any event. Then an order or payment with an order_ref is
 * reconciled (skeldir._reconcile), in the same transaction. Idempotent: an event that already
 * has allocations is left alone, so a redelivered task writes nothing. Marks the realtime
 * view dirty (the read-model tables follow the allocations at commit). Raises P0002 when
 * the event does not exist, SK409 as above.
 */
CREATE FUNCTION skeldir._task_allocate(message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _r     record;
    _e     skeldir.attribution_events;
    _model text;
    _orig  bigint;
    _n     integer := 0;
BEGIN
    -- One query (this runs for every accepted webhook): the event, its tenant's model, and
    -- whether it is already allocated.
    SELECT e AS event, t.allocation_model AS model,
           EXISTS (SELECT FROM skeldir.allocations AS a WHERE a.tenant_id = e.tenant_id AND a.event_id = e.id) AS allocated
      INTO _r
      FROM skeldir.attribution_events AS e
      JOIN skeldir.tenants AS t ON t.id = e.tenant_id
     WHERE e.tenant_id = (message ->> 'tenant_id')::uuid
       AND e.id = (message ->> 'event_id')::bigint;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % of tenant % not found', message ->> 'event_id', message ->> 'tenant_id'
            USING ERRCODE = 'no_data_found';
    END IF;
    IF _r.allocated THEN
        RETURN;  -- redelivered: allocation and reconciliation were committed together
    END IF;
    _e := _r.event;
    _model := _r.model;

    IF _e.kind = 'refund' AND (_e.payment_ref IS NOT NULL OR _e.order_ref IS NOT NULL) THEN
        SELECT o.id INTO _orig
          FROM skeldir.attribution_events AS o
         WHERE o.tenant_id = _e.tenant_id
           AND o.kind IN ('order', 'payment')
           AND (o.payment_ref = _e.payment_ref OR o.order_ref = _e.order_ref)
         ORDER BY (o.payment_ref = _e.payment_ref) IS TRUE DESC, o.occurred_at, o.id
         LIMIT 1;
        IF _orig IS NOT NULL THEN
            IF NOT EXISTS (SELECT FROM skeldir.allocations AS a WHERE a.tenant_id = _e.tenant_id AND a.event_id = _orig) THEN
                RAISE EXCEPTION 'refund % waits for the allocation of event %', _e.id, _orig
                    USING ERRCODE = 'SK409', HINT = 'Retried with backoff until the original is allocated.';
            END IF;
            INSERT INTO skeldir.allocations (tenant_id, event_id, kind, channel, model, amount_minor, currency, occurred_at)
            SELECT _e.tenant_id, _e.id, _e.kind, s.channel, o.model, s.amount_minor, _e.currency, _e.occurred_at
              FROM (SELECT pg_catalog.min(a.model) AS model,
                           pg_catalog.array_agg(a.channel ORDER BY a.channel) AS channels,
                           pg_catalog.array_agg(pg_catalog.abs(a.amount_minor) ORDER BY a.channel) AS weights
                      FROM skeldir.allocations AS a
                     WHERE a.tenant_id = _e.tenant_id AND a.event_id = _orig) AS o,
                   skeldir._allocation_split(_e.amount_minor, o.channels, o.weights) AS s;
            GET DIAGNOSTICS _n = ROW_COUNT;
        END IF;
    END IF;

    -- Not a refund, a refund of nothing known, or of a zero-amount original: split by model.
    IF _n = 0 THEN
        INSERT INTO skeldir.allocations (tenant_id, event_id, kind, channel, model, amount_minor, currency, occurred_at)
        SELECT _e.tenant_id, _e.id, _e.kind, s.channel, _model, s.amount_minor, _e.currency, _e.occurred_at
          FROM skeldir._allocation_model(_e.amount_minor, _model, skeldir._touchpoints(_e, _model)) AS s;
    END IF;

    IF _e.kind IN ('order', 'payment') AND _e.order_ref IS NOT NULL THEN
        PERFORM skeldir._reconcile(_e.tenant_id, _e.order_ref);
    END IF;
    -- The four read-model tables get their deltas at commit (change read_model_upkeep).
    PERFORM skeldir._matview_touch('{mv_realtime_revenue}');
END;
$$;
COMMENT ON FUNCTION skeldir._task_allocate(jsonb) IS
    'Attribution task: allocate an event by the tenant model, refunds proportionally (idempotent). Raises P0002, SK409.';

COMMIT;
