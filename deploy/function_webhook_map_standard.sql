-- Deploy skeldir:function_webhook_map_standard to pg
-- Reworked after v1.0.0 (issue 21, lever 4): the same facts, keys and refusals, read more
-- cheaply: every field helper it calls is inlined (skeldir._field and the rest are BEGIN ATOMIC
-- expressions since function_webhook_field was reworked), the currency is looked up once per
-- delivery with its exponent, and a query over an array runs only when the array is there.
-- The projection (skeldir._project_standard) is unchanged: see function_webhook_map_standard@v1.0.0.
BEGIN;

/**
 * Standard Webhooks delivery carrying Skeldir's own canonical event JSON, for custom
 * stores (schema: docs/standard-webhooks.schema.json) -> one revenue fact. The webhook-id
 * header (the Standard Webhooks message id, stable across retries) names the delivery;
 * the fact keys on the store's own references, so one order, payment or refund sent as
 * two messages still counts once:
 *   order.created     -> order   'order:<order_ref>'
 *   payment.succeeded -> payment 'payment:<payment_ref>'
 *   refund.created    -> refund  'refund:<refund_ref>', or 'refund:msg:<webhook-id>' when
 *                        the store sends no refund_ref (then each message is one refund)
 *   (other types are ignored). amount: decimal string in major units, >= 0; refunds are
 *   stored negative. order_ref is required for orders, payment_ref for payments, one of
 *   them for refunds. attribution: optional object of utm_source, utm_medium,
 *   utm_campaign, referrer, landing_page. customer_email is hashed, never stored.
 * Raises SK422 with a dead-letter reason code.
 */
CREATE OR REPLACE FUNCTION skeldir._map_standard(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e    skeldir.webhook_event;
    _attr jsonb;
    _code text;
    _exp  integer;
    _amount text;
BEGIN
    _e.topic := skeldir._text(doc, 'type');
    _e.supported := _e.topic IN ('order.created', 'payment.succeeded', 'refund.created');
    IF NOT _e.supported THEN
        RETURN ARRAY[_e];
    END IF;
    _e.vendor_event_id := nullif(pg_catalog.btrim(headers ->> 'webhook-id'), '');
    IF _e.vendor_event_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:header.webhook-id';
    END IF;
    _e.kind := pg_catalog.split_part(_e.topic, '.', 1);
    _e.order_ref := CASE WHEN _e.kind = 'order' THEN skeldir._ident(doc, 'order_ref')
                         ELSE skeldir._optional_ident(doc, 'order_ref') END;
    _e.payment_ref := CASE WHEN _e.kind = 'payment' THEN skeldir._ident(doc, 'payment_ref')
                           ELSE skeldir._optional_ident(doc, 'payment_ref') END;
    IF _e.kind = 'refund' AND _e.order_ref IS NULL AND _e.payment_ref IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:order_ref',
            DETAIL = 'a refund needs order_ref or payment_ref';
    END IF;
    _e.fact_key := _e.kind || ':' || CASE _e.kind
        WHEN 'order' THEN _e.order_ref
        WHEN 'payment' THEN _e.payment_ref
        ELSE coalesce(skeldir._optional_ident(doc, 'refund_ref'), 'msg:' || _e.vendor_event_id) END;
    _code := skeldir._text(doc, 'currency');
    -- One lookup gives the code and its exponent; an unknown code is refused by skeldir._currency,
    -- with the same reason and detail as before.
    SELECT c.exponent INTO _exp FROM skeldir.currencies AS c
     WHERE c.code = pg_catalog.upper(pg_catalog.btrim(_code))::bpchar;
    _e.currency := CASE WHEN FOUND THEN pg_catalog.upper(pg_catalog.btrim(_code)) ELSE skeldir._currency(_code) END;
    _amount := skeldir._text(doc, 'amount');  -- a variable: the inlined conversion reads it often
    _e.amount_minor := skeldir._minor_units_at(_amount, _e.currency, _exp);
    IF _e.amount_minor < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount',
            DETAIL = 'amount is in major units and never negative; refund.created is stored negative';
    END IF;
    IF _e.kind = 'refund' THEN
        _e.amount_minor := -_e.amount_minor;
    END IF;
    _e.occurred_at := skeldir._timestamp(doc, 'occurred_at');
    _attr := doc -> 'attribution';
    IF _attr IS NOT NULL AND _attr <> 'null' THEN
        _attr := skeldir._field(doc, 'attribution', 'object');
        _e.utm_source := _attr ->> 'utm_source';
        _e.utm_medium := _attr ->> 'utm_medium';
        _e.utm_campaign := _attr ->> 'utm_campaign';
        _e.referrer := _attr ->> 'referrer';
        _e.landing_page := _attr ->> 'landing_page';
    END IF;
    _e.customer_email := doc ->> 'customer_email';
    RETURN ARRAY[_e];
END;
$$;
COMMENT ON FUNCTION skeldir._map_standard(jsonb, jsonb) IS
    'Maps a Skeldir canonical event to its fact. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

COMMIT;
