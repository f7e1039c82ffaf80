-- Deploy skeldir:function_webhook_map_woocommerce to pg
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
CREATE FUNCTION skeldir._map_woocommerce(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
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

/**
 * What is stored of a WooCommerce order (SPEC §5, privacy by construction): exactly the
 * fields skeldir._map_woocommerce reads, in the same shape, plus the line items' ids,
 * quantities and totals, so a dead letter's projection replays like the delivery itself.
 * Billing and shipping details, the customer's IP and user agent, notes and every meta_data
 * entry other than the five order-attribution fields are not kept. Never raises. Arrays
 * are projected by queries only when present; the rest is one simple expression.
 */
CREATE FUNCTION skeldir._project_woocommerce(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = '' AS $$
DECLARE
    _meta    jsonb := doc -> 'meta_data';
    _refunds jsonb := doc -> 'refunds';
    _items   jsonb := doc -> 'line_items';
BEGIN
    IF pg_catalog.jsonb_typeof(doc) <> 'object' THEN
        RETURN NULL;  -- not_an_object: nothing is kept but the body's hash and length
    END IF;
    IF pg_catalog.jsonb_typeof(_meta) = 'array' THEN
        _meta := (
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'key', m.value -> 'key', 'value', skeldir._keep_text(m.value -> 'value')) ORDER BY m.ord)
              FROM pg_catalog.jsonb_array_elements(_meta) WITH ORDINALITY AS m (value, ord)
             WHERE pg_catalog.jsonb_typeof(m.value) = 'object'
               AND m.value ->> 'key' IN ('_wc_order_attribution_utm_source', '_wc_order_attribution_utm_medium',
                                         '_wc_order_attribution_utm_campaign', '_wc_order_attribution_referrer',
                                         '_wc_order_attribution_session_entry'));
    ELSE
        _meta := NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(_refunds) = 'array' THEN
        _refunds := (
            SELECT coalesce(pg_catalog.jsonb_agg(CASE WHEN pg_catalog.jsonb_typeof(r.value) = 'object'
                       THEN pg_catalog.jsonb_build_object(
                                'id', skeldir._keep_scalar(r.value -> 'id'),
                                'total', skeldir._keep_scalar(r.value -> 'total'))
                       ELSE 'null' END ORDER BY r.ord), '[]')
              FROM pg_catalog.jsonb_array_elements(_refunds) WITH ORDINALITY AS r (value, ord));
    ELSE
        _refunds := NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(_items) = 'array' THEN
        _items := (
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'id', skeldir._keep_scalar(l.value -> 'id'),
                       'product_id', skeldir._keep_scalar(l.value -> 'product_id'),
                       'variation_id', skeldir._keep_scalar(l.value -> 'variation_id'),
                       'quantity', skeldir._keep_scalar(l.value -> 'quantity'),
                       'total', skeldir._keep_scalar(l.value -> 'total')) ORDER BY l.ord)
              FROM pg_catalog.jsonb_array_elements(_items) WITH ORDINALITY AS l (value, ord)
             WHERE pg_catalog.jsonb_typeof(l.value) = 'object');
    ELSE
        _items := NULL;
    END IF;
    RETURN pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'id', skeldir._keep_scalar(doc -> 'id'),
        'status', skeldir._keep_scalar(doc -> 'status'),
        'currency', skeldir._keep_scalar(doc -> 'currency'),
        'total', skeldir._keep_scalar(doc -> 'total'),
        'transaction_id', skeldir._keep_scalar(doc -> 'transaction_id'),
        'date_paid_gmt', skeldir._keep_scalar(doc -> 'date_paid_gmt'),
        'date_created_gmt', skeldir._keep_scalar(doc -> 'date_created_gmt'),
        'date_modified_gmt', skeldir._keep_scalar(doc -> 'date_modified_gmt'),
        'meta_data', _meta,
        'refunds', _refunds,
        'line_items', _items));
END;
$$;
COMMENT ON FUNCTION skeldir._project_woocommerce(jsonb) IS
    'What is stored of a WooCommerce order: the fields its mapping reads and the line items'' ids, nothing else.';

COMMIT;
