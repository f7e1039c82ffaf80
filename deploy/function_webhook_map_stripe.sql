-- Deploy skeldir:function_webhook_map_stripe to pg
BEGIN;

/**
 * Stripe event -> canonical event. Topics: payment_intent.succeeded and charge.succeeded
 * (payments), charge.refunded (refund, negative). Stripe amounts are already integers in
 * minor units. Dedupe key: the event's evt_ id. Order reference: metadata.order_id;
 * attribution from metadata utm_source / utm_medium / utm_campaign / referrer / landing_page.
 * Raises SK422 with a dead-letter reason code when a required field is missing or mistyped.
 */
CREATE FUNCTION skeldir._map_stripe(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event
LANGUAGE plpgsql STABLE AS $$
DECLARE
    _e    skeldir.webhook_event;
    _obj  jsonb;
    _meta jsonb;
BEGIN
    _e.topic := skeldir._text(doc, 'type');
    _e.supported := _e.topic IN ('payment_intent.succeeded', 'charge.succeeded', 'charge.refunded');
    IF NOT _e.supported THEN
        RETURN _e;
    END IF;

    _e.vendor_event_id := skeldir._text(doc, 'id');
    _e.occurred_at := pg_catalog.to_timestamp(skeldir._minor_integer(doc, 'created'));
    _obj := skeldir._field(doc, 'data.object', 'object');
    _e.currency := skeldir._currency(skeldir._text(doc, 'data.object.currency'));
    _meta := CASE WHEN pg_catalog.jsonb_typeof(_obj -> 'metadata') = 'object' THEN _obj -> 'metadata' ELSE '{}' END;

    CASE _e.topic
    WHEN 'payment_intent.succeeded' THEN
        _e.kind := 'payment';
        _e.payment_ref := skeldir._text(doc, 'data.object.id');
        _e.amount_minor := skeldir._minor_integer(doc,
            CASE WHEN _obj ? 'amount_received' THEN 'data.object.amount_received' ELSE 'data.object.amount' END);
    WHEN 'charge.succeeded' THEN
        _e.kind := 'payment';
        _e.payment_ref := coalesce(_obj ->> 'payment_intent', skeldir._text(doc, 'data.object.id'));
        _e.amount_minor := skeldir._minor_integer(doc, 'data.object.amount');
    WHEN 'charge.refunded' THEN
        _e.kind := 'refund';
        _e.payment_ref := coalesce(_obj ->> 'payment_intent', skeldir._text(doc, 'data.object.id'));
        _e.amount_minor := -skeldir._minor_integer(doc, 'data.object.amount_refunded');
    END CASE;

    _e.order_ref := _meta ->> 'order_id';
    _e.utm_source := _meta ->> 'utm_source';
    _e.utm_medium := _meta ->> 'utm_medium';
    _e.utm_campaign := _meta ->> 'utm_campaign';
    _e.referrer := _meta ->> 'referrer';
    _e.landing_page := _meta ->> 'landing_page';
    _e.customer_email := coalesce(_obj ->> 'receipt_email', _obj #>> '{billing_details,email}',
                                  _obj ->> 'customer_email');
    RETURN _e;
END;
$$;
COMMENT ON FUNCTION skeldir._map_stripe(jsonb, jsonb) IS
    'Maps a Stripe event. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

COMMIT;
