-- Deploy skeldir:function_allocation to pg
BEGIN;

/**
 * Largest-remainder split of `amount` (minor units, any sign) over channels in proportion
 * to non-negative integer weights; a channel named twice gets the sum of its weights.
 * Each channel first gets floor(|amount| * weight / total); the units left over go, one
 * each, to the largest remainders, ties broken by channel name. So the parts always sum
 * exactly to `amount`, and the same inputs always give the same parts. Integer (numeric)
 * arithmetic throughout: no float anywhere. Channels with zero weight get no row; no
 * positive weight at all gives no rows (callers check). A single SELECT in SQL, so the
 * planner inlines it into the calling query instead of planning it on every call.
 */
CREATE FUNCTION skeldir._allocation_split(amount bigint, channels text[], weights bigint[])
RETURNS TABLE (channel text, amount_minor bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH w AS (
        SELECT u.c AS ch, pg_catalog.sum(u.w)::numeric AS weight
          FROM unnest(_allocation_split.channels, _allocation_split.weights) AS u (c, w)  -- multi-array form: FROM only, unqualified
         WHERE u.w > 0 AND u.c IS NOT NULL
         GROUP BY u.c
    ), q AS (
        SELECT w.ch,
               pg_catalog.div(pg_catalog.abs(_allocation_split.amount) * w.weight, t.total) AS base,
               pg_catalog.mod(pg_catalog.abs(_allocation_split.amount) * w.weight, t.total) AS rest
          FROM w, (SELECT pg_catalog.sum(w.weight) AS total FROM w) AS t
    ), r AS (
        SELECT q.ch, q.base,
               pg_catalog.row_number() OVER (ORDER BY q.rest DESC, q.ch) AS rank,
               pg_catalog.abs(_allocation_split.amount) - pg_catalog.sum(q.base) OVER () AS leftover
          FROM q
    )
    SELECT r.ch,
           (pg_catalog.sign(_allocation_split.amount) * (r.base + CASE WHEN r.rank <= r.leftover THEN 1 ELSE 0 END))::bigint
      FROM r
     ORDER BY r.ch
$$;
COMMENT ON FUNCTION skeldir._allocation_split(bigint, text[], bigint[]) IS
    'Largest-remainder split of an amount over weighted channels; parts sum exactly to the amount.';

/**
 * An amount split by an attribution model over an ordered list of touch channels
 * (oldest first): last_touch gives it all to the last touch, first_touch to the first,
 * linear an equal share to every touch (a channel touched twice gets two shares).
 * Raises 22023 for an unknown model or an empty touch list.
 */
CREATE FUNCTION skeldir._allocation_model(amount bigint, model text, touches text[])
RETURNS TABLE (channel text, amount_minor bigint)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    _n integer := coalesce(pg_catalog.cardinality(touches), 0);
    _pick text[];
BEGIN
    IF _n = 0 OR pg_catalog.array_position(touches, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'an allocation needs at least one touch and no NULL channel'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    _pick := CASE model
        WHEN 'last_touch' THEN ARRAY[touches[_n]]
        WHEN 'first_touch' THEN ARRAY[touches[1]]
        WHEN 'linear' THEN touches
    END;
    IF _pick IS NULL THEN
        RAISE EXCEPTION 'unknown allocation model %', model
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Models: last_touch, first_touch, linear.';
    END IF;
    IF pg_catalog.cardinality(_pick) = 1 THEN
        -- One touch takes it all (every last_touch and first_touch split): the hot path.
        channel := _pick[1];
        amount_minor := amount;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT s.channel, s.amount_minor
          FROM skeldir._allocation_split(amount, _pick,
                   pg_catalog.array_fill(1::bigint, ARRAY[pg_catalog.cardinality(_pick)])) AS s;
END;
$$;
COMMENT ON FUNCTION skeldir._allocation_model(bigint, text, text[]) IS
    'Split by model (last_touch | first_touch | linear) over ordered touch channels. Raises 22023.';

/**
 * The touchpoints of an event, oldest first, as channels. The documented, deterministic
 * source: the same tenant's earlier order and payment events of the same customer_ref
 * (the keyed email hash) within settings.attribution_lookback before the event, each
 * contributing the channel of its own utm/referrer fields, then the event's own touch,
 * always last. Earlier means (occurred_at, id) smaller. An event without customer_ref has
 * its own touch only. Only what `model` needs is read: last_touch needs the own touch,
 * first_touch the earliest touch and the own one, linear all of them. Reads under the
 * caller's RLS (the task runner sets the tenant).
 */
CREATE FUNCTION skeldir._touchpoints(event skeldir.attribution_events, model text) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    _own      text := skeldir._channel(event.utm_source, event.utm_medium, event.referrer);
    _lookback interval;
BEGIN
    IF event.customer_ref IS NULL OR model = 'last_touch' THEN
        RETURN ARRAY[_own];
    END IF;
    SELECT s.attribution_lookback INTO _lookback FROM skeldir.settings AS s;
    RETURN ARRAY(
        SELECT skeldir._channel(h.utm_source, h.utm_medium, h.referrer)
          FROM skeldir.attribution_events AS h
         WHERE h.tenant_id = event.tenant_id
           AND h.customer_ref = event.customer_ref
           AND h.kind IN ('order', 'payment')
           AND h.occurred_at >= event.occurred_at - _lookback
           AND (h.occurred_at, h.id) < (event.occurred_at, event.id)
         ORDER BY h.occurred_at, h.id
         LIMIT CASE WHEN model = 'first_touch' THEN 1 END
    ) || _own;
END;
$$;
COMMENT ON FUNCTION skeldir._touchpoints(skeldir.attribution_events, text) IS
    'Ordered touch channels of an event (as far as the model needs): same customer''s earlier events within the lookback, then its own.';

/**
 * The `allocate` task, replacing the last-touch-only version of function_task_allocate.
 * Orders and payments are split by the tenant's model over skeldir._touchpoints. A refund
 * reverses proportionally: it is split by the allocation of the event it refunds (the
 * tenant's earliest order or payment with the same payment_ref, else the same order_ref),
 * weights being that allocation's amounts, under that allocation's model; when that event
 * exists but is not yet allocated the task raises SK409 and is retried; a refund of nothing
 * known is split by the model like any event. Then an order or payment with an order_ref
 * is reconciled (skeldir._reconcile), in the same transaction. Idempotent: an event that
 * already has allocations is left alone, so a redelivered task writes nothing. Marks the
 * revenue views dirty. Raises P0002 when the event does not exist, SK409 as above.
 */
CREATE OR REPLACE FUNCTION skeldir._task_allocate(message jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
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
