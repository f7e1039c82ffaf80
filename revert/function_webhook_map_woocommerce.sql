-- Revert skeldir:function_webhook_map_woocommerce from pg
-- Restores the v1.0.0 mapping (deploy/function_webhook_map_woocommerce@v1.0.0.sql, verbatim).
BEGIN;

/**
 * WooCommerce delivery -> revenue facts (SPEC §5). Topic: X-WC-Webhook-Topic (order.created,
 * order.updated; anything else is ignored). WooCommerce resends the whole order on every
 * save, X-WC-Webhook-Delivery-ID can repeat, and it never retries, so the facts key on the
 * order and read its whole state from every delivery:
 *   - the order is revenue once, when it is paid, as WooCommerce Analytics counts it:
 *     date_paid_gmt set, or status processing or completed      -> order  'order:<id>'
 *     (occurred_at = date_paid_gmt | date_created_gmt | date_modified_gmt);
 *   - every element of refunds[] (newest first; total negative)  -> refund 'refund:<id>'
 *     (occurred_at = date_modified_gmt, amount = its total, always negative), whether or
 *     not the payment was seen before, so a merged or lost delivery loses no refund.
 * A resave of the same state is therefore a duplicate, not new revenue; an order neither
 * paid nor refunded (pending, on-hold, failed...) carries no fact and is ignored.
 * The delivery id (X-WC-Webhook-Delivery-ID, else the order id) is kept for tracing.
 * *_gmt timestamps carry no offset and are UTC. Attribution from the order's
 * _wc_order_attribution_* meta_data (utm_source, utm_medium, utm_campaign, referrer,
 * session_entry as landing page). Raises SK422 with a dead-letter reason code.
 */
CREATE OR REPLACE FUNCTION skeldir._map_woocommerce(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e      skeldir.webhook_event;
    _facts  skeldir.webhook_event[];
    _meta   jsonb;
    _refund record;
    _id     text;
    _status text;
BEGIN
    _e.topic := skeldir._header(headers, 'wc-webhook-topic');
    IF _e.topic IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:header.x-wc-webhook-topic';
    END IF;
    _e.supported := _e.topic IN ('order.created', 'order.updated');
    IF NOT _e.supported THEN
        RETURN ARRAY[_e];
    END IF;
    _id := skeldir._ident(doc, 'id');
    _status := skeldir._text(doc, 'status');
    _e.vendor_event_id := coalesce(skeldir._header(headers, 'wc-webhook-delivery-id'), 'order:' || _id);
    _e.order_ref := _id;
    _e.currency := skeldir._currency(skeldir._text(doc, 'currency'));
    _e.payment_ref := skeldir._optional_ident(doc, 'transaction_id');

    SELECT coalesce(pg_catalog.jsonb_object_agg(
               pg_catalog.substr(m.value ->> 'key', pg_catalog.length('_wc_order_attribution_') + 1), m.value ->> 'value'), '{}')
      INTO _meta
      FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(doc -> 'meta_data') = 'array'
                                                THEN doc -> 'meta_data' ELSE '[]' END) AS m
     WHERE pg_catalog.jsonb_typeof(m.value) = 'object'
       AND m.value ->> 'key' LIKE '\_wc\_order\_attribution\_%'
       AND pg_catalog.jsonb_typeof(m.value -> 'value') = 'string';
    _e.utm_source := nullif(_meta ->> 'utm_source', '(none)');
    _e.utm_medium := nullif(_meta ->> 'utm_medium', '(none)');
    _e.utm_campaign := nullif(_meta ->> 'utm_campaign', '(none)');
    _e.referrer := nullif(_meta ->> 'referrer', '(none)');
    _e.landing_page := nullif(_meta ->> 'session_entry', '(none)');
    _e.customer_email := nullif(doc #>> '{billing,email}', '');

    IF nullif(doc ->> 'date_paid_gmt', '') IS NOT NULL OR _status IN ('processing', 'completed') THEN
        _e.kind := 'order';
        _e.fact_key := 'order:' || _id;
        _e.amount_minor := skeldir._minor_units(skeldir._decimal(doc, 'total'), _e.currency);
        IF _e.amount_minor < 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount', DETAIL = 'total is negative';
        END IF;
        _e.occurred_at := skeldir._timestamp(doc, CASE
            WHEN nullif(doc ->> 'date_paid_gmt', '') IS NOT NULL THEN 'date_paid_gmt'
            WHEN doc ->> 'date_created_gmt' IS NOT NULL THEN 'date_created_gmt'
            ELSE 'date_modified_gmt' END);
        _facts := ARRAY[_e];
    END IF;

    FOR _refund IN
        SELECT r.value, r.ord
          FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(doc -> 'refunds') = 'array'
                                                    THEN doc -> 'refunds' ELSE '[]' END) WITH ORDINALITY AS r (value, ord)
         ORDER BY r.ord DESC  -- oldest first: WooCommerce lists the newest first
    LOOP
        IF pg_catalog.jsonb_typeof(_refund.value) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_type:refunds.' || (_refund.ord - 1);
        END IF;
        _e.kind := 'refund';
        _e.fact_key := 'refund:' || skeldir._ident(_refund.value, 'id');
        _e.amount_minor := -pg_catalog.abs(skeldir._minor_units(skeldir._decimal(_refund.value, 'total'), _e.currency));
        _e.occurred_at := skeldir._timestamp(doc, 'date_modified_gmt');
        _facts := _facts || _e;
    END LOOP;

    IF _facts IS NULL THEN
        _e.supported := false;  -- not revenue yet
        _e.topic := _e.topic || ':' || _status;
        RETURN ARRAY[_e];
    END IF;
    RETURN _facts;
END;
$$;
COMMENT ON FUNCTION skeldir._map_woocommerce(jsonb, jsonb) IS
    'Maps a WooCommerce order delivery to its order and refund facts. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

COMMIT;
