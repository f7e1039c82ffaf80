-- Deploy skeldir:function_webhook_map_stripe to pg
-- Reworked after v1.0.0 (issue 21, lever 4): the same facts, keys and refusals, read more
-- cheaply: every field helper it calls is inlined (skeldir._field and the rest are BEGIN ATOMIC
-- expressions since function_webhook_field was reworked), the currency is looked up once per
-- delivery with its exponent, and a query over an array runs only when the array is there.
-- The projection (skeldir._project_stripe) is unchanged: see function_webhook_map_stripe@v1.0.0.
BEGIN;

/**
 * Stripe event -> revenue facts (SPEC §5). Stripe amounts are integers in minor units.
 *   payment_intent.succeeded -> payment 'payment:<pi>' (amount_received | amount)
 *   charge.succeeded         -> payment 'payment:<pi>' (or 'payment:<ch>' without a
 *                               PaymentIntent): the same fact as the PaymentIntent's, so a
 *                               merchant subscribed to both records one payment
 *   charge.refunded          -> its refunds, as levels of the cumulative amount_refunded
 *                               (the payment itself is the succeeded events' fact; Stripe
 *                               retries a failed delivery for three days): one level per
 *                               refund listed in refunds.data ('refund:<re_>', oldest first),
 *                               else one level 'refund:<ch>:<amount_refunded>'. The ingest
 *                               path records a level only as far as it exceeds what is
 *                               already recorded for the payment, so 10.00 then 25.00, or
 *                               30.00 then 10.00, or any redelivery, leave the maximum seen.
 * Anything else is ignored (refund.* events would describe the same refunds again).
 * Order reference: metadata.order_id; attribution from metadata utm_source / utm_medium /
 * utm_campaign / referrer / landing_page. Raises SK422 with a dead-letter reason code
 * when a required field is missing or mistyped. Field helpers are inlined expressions; the
 * currency is one lookup (Stripe's amounts are already in minor units).
 */
CREATE OR REPLACE FUNCTION skeldir._map_stripe(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e       skeldir.webhook_event;
    _facts   skeldir.webhook_event[];
    _obj     jsonb;
    _meta    jsonb;
    _charge  text;
    _total   bigint;
    _level   bigint := 0;
    _refund  record;
    _code    text;
    _exp     integer;
BEGIN
    _e.topic := skeldir._text(doc, 'type');
    _e.supported := _e.topic IN ('payment_intent.succeeded', 'charge.succeeded', 'charge.refunded');
    IF NOT _e.supported THEN
        RETURN ARRAY[_e];
    END IF;

    _e.vendor_event_id := skeldir._text(doc, 'id');
    _e.occurred_at := pg_catalog.to_timestamp(skeldir._minor_integer(doc, 'created'));
    _obj := skeldir._field(doc, 'data.object', 'object');
    _code := skeldir._text(doc, 'data.object.currency');
    -- One lookup gives the code and its exponent; an unknown code is refused by skeldir._currency,
    -- with the same reason and detail as before.
    SELECT c.exponent INTO _exp FROM skeldir.currencies AS c
     WHERE c.code = pg_catalog.upper(pg_catalog.btrim(_code))::bpchar;
    _e.currency := CASE WHEN FOUND THEN pg_catalog.upper(pg_catalog.btrim(_code)) ELSE skeldir._currency(_code) END;
    _meta := CASE WHEN pg_catalog.jsonb_typeof(_obj -> 'metadata') = 'object' THEN _obj -> 'metadata' ELSE '{}' END;
    _e.order_ref := _meta ->> 'order_id';
    _e.utm_source := _meta ->> 'utm_source';
    _e.utm_medium := _meta ->> 'utm_medium';
    _e.utm_campaign := _meta ->> 'utm_campaign';
    _e.referrer := _meta ->> 'referrer';
    _e.landing_page := _meta ->> 'landing_page';
    _e.customer_email := coalesce(_obj ->> 'receipt_email', _obj #>> '{billing_details,email}',
                                  _obj ->> 'customer_email');
    _e.kind := 'payment';

    IF _e.topic = 'payment_intent.succeeded' THEN
        _e.payment_ref := skeldir._text(doc, 'data.object.id');
        _e.amount_minor := CASE WHEN _obj ? 'amount_received'  -- a constant path each: inlined, folded
            THEN skeldir._minor_integer(doc, 'data.object.amount_received')
            ELSE skeldir._minor_integer(doc, 'data.object.amount') END;
        _e.fact_key := 'payment:' || _e.payment_ref;
        RETURN ARRAY[_e];
    END IF;

    -- A charge: its payment is the PaymentIntent's when it has one.
    _charge := skeldir._text(doc, 'data.object.id');
    _e.payment_ref := coalesce(skeldir._optional_ident(_obj, 'payment_intent'), _charge);
    _e.amount_minor := skeldir._minor_integer(doc, 'data.object.amount');
    _e.fact_key := 'payment:' || _e.payment_ref;
    IF _e.topic = 'charge.succeeded' THEN
        RETURN ARRAY[_e];
    END IF;

    _e.kind := 'refund';
    _e.amount_minor := NULL;  -- decided when stored: the part of the level not yet recorded
    _total := skeldir._minor_integer(doc, 'data.object.amount_refunded');
    FOR _refund IN
        SELECT skeldir._text(r.value, 'id') AS id, skeldir._minor_integer(r.value, 'amount') AS amount
          FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(_obj #> '{refunds,data}') = 'array'
                                                    THEN _obj #> '{refunds,data}' ELSE '[]' END) AS r
         WHERE coalesce(r.value ->> 'status', 'succeeded') NOT IN ('failed', 'canceled')
         ORDER BY r.value -> 'created', r.value ->> 'id'
    LOOP
        EXIT WHEN _level + _refund.amount > _total;
        _level := _level + _refund.amount;
        _e.fact_key := 'refund:' || _refund.id;
        _e.cumulative_minor := _level;
        _facts := _facts || _e;
    END LOOP;
    IF _total > _level THEN  -- no list (API versions since 2022-11-15), or a partial one
        _e.fact_key := 'refund:' || _charge || ':' || _total;
        _e.cumulative_minor := _total;
        _facts := _facts || _e;
    END IF;
    IF _facts IS NULL THEN
        _e.supported := false;  -- nothing refunded
        _e.topic := _e.topic || ':nothing';
        RETURN ARRAY[_e];
    END IF;
    RETURN _facts;
END;
$$;
COMMENT ON FUNCTION skeldir._map_stripe(jsonb, jsonb) IS
    'Maps a Stripe event to its payment and refund facts. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

COMMIT;
