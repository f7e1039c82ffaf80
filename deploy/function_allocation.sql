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
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it into the calling
 * query (every allocation) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir._allocation_split(amount bigint, channels text[], weights bigint[])
RETURNS TABLE (channel text, amount_minor bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE BEGIN ATOMIC
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
     ORDER BY r.ch;
END;
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
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
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
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
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

COMMIT;
