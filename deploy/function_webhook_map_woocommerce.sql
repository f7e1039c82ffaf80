-- Deploy skeldir:function_webhook_map_woocommerce to pg
BEGIN;

/**
 * WooCommerce delivery -> canonical event. Topic: X-WC-Webhook-Topic (order.created,
 * order.updated; anything else is ignored). Deliveries are not unique per se: WooCommerce
 * resends the whole order on every save and X-WC-Webhook-Delivery-ID can repeat, so the
 * dedupe key is derived from the resource (SPEC §5: resource id + what happened + when):
 *   - an order whose status is "completed" becomes revenue once:       order:<id>:completed
 *     (occurred_at = date_completed_gmt | date_modified_gmt);
 *   - refunds arrive on order.updated as refunds[] (newest first, total negative): the
 *     newest one becomes a refund event:                                order:<id>:refund:<refund id>
 *     (occurred_at = date_modified_gmt, amount = its total, always negative).
 * A resave of the same state (new date_modified_gmt, same facts) is therefore a duplicate,
 * not new revenue. Other statuses (pending, processing, on-hold...) are ignored.
 * *_gmt timestamps carry no offset and are UTC. Attribution from the order's
 * _wc_order_attribution_* meta_data (utm_source, utm_medium, utm_campaign, referrer,
 * session_entry as landing page). Raises SK422 with a dead-letter reason code.
 */
CREATE FUNCTION skeldir._map_woocommerce(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event
LANGUAGE plpgsql STABLE AS $$
DECLARE
    _e      skeldir.webhook_event;
    _meta   jsonb;
    _refund jsonb;
    _id     text;
BEGIN
    _e.topic := skeldir._header(headers, 'wc-webhook-topic');
    IF _e.topic IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:header.x-wc-webhook-topic';
    END IF;
    _e.supported := _e.topic IN ('order.created', 'order.updated');
    IF NOT _e.supported THEN
        RETURN _e;
    END IF;
    _id := skeldir._ident(doc, 'id');
    _e.order_ref := _id;
    _e.currency := skeldir._currency(skeldir._text(doc, 'currency'));
    _refund := CASE WHEN pg_catalog.jsonb_typeof(doc -> 'refunds') = 'array' THEN doc #> '{refunds,0}' END;

    IF _e.topic = 'order.updated' AND pg_catalog.jsonb_typeof(_refund) = 'object' THEN
        _e.kind := 'refund';
        _e.vendor_event_id := 'order:' || _id || ':refund:' || skeldir._ident(_refund, 'id');
        _e.amount_minor := -pg_catalog.abs(skeldir._minor_units(skeldir._decimal(_refund, 'total'), _e.currency));
        _e.occurred_at := skeldir._timestamp(doc, 'date_modified_gmt');
    ELSIF skeldir._text(doc, 'status') = 'completed' THEN
        _e.kind := 'order';
        _e.vendor_event_id := 'order:' || _id || ':completed';
        _e.amount_minor := skeldir._minor_units(skeldir._decimal(doc, 'total'), _e.currency);
        IF _e.amount_minor < 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount', DETAIL = 'total is negative';
        END IF;
        _e.occurred_at := skeldir._timestamp(doc, CASE WHEN doc ->> 'date_completed_gmt' IS NOT NULL
                                                       THEN 'date_completed_gmt' ELSE 'date_modified_gmt' END);
    ELSE
        _e.supported := false;  -- not revenue yet
        _e.topic := _e.topic || ':' || (doc ->> 'status');
        RETURN _e;
    END IF;

    _e.payment_ref := nullif(doc ->> 'transaction_id', '');
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
    RETURN _e;
END;
$$;
COMMENT ON FUNCTION skeldir._map_woocommerce(jsonb, jsonb) IS
    'Maps a WooCommerce order delivery. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

COMMIT;
