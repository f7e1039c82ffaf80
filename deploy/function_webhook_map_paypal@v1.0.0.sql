-- Deploy skeldir:function_webhook_map_paypal to pg
BEGIN;

/**
 * PayPal webhook event -> one revenue fact (SPEC §5). The event's WH- id names the
 * delivery (kept for tracing); the fact keys on the capture, sale or refund it describes:
 *   PAYMENT.CAPTURE.COMPLETED -> payment 'payment:<capture id>' (resource.amount.value / currency_code)
 *   PAYMENT.SALE.COMPLETED    -> payment 'payment:<sale id>'    (resource.amount.total / currency)
 *   PAYMENT.CAPTURE.REFUNDED  -> refund  'refund:<refund id>'   (negative; payment_ref = the
 *                                         refunded capture id from the resource's "up" link)
 *   PAYMENT.SALE.REFUNDED     -> refund  'refund:<refund id>'   (negative; payment_ref = resource.sale_id)
 * Order reference: invoice_id | invoice_number | supplementary_data.related_ids.order_id.
 * Attribution: custom_id (or custom) when it carries a query string with utm_* / referrer /
 * landing_page, e.g. "utm_source=google&utm_medium=cpc". occurred_at: create_time.
 * Raises SK422 with a dead-letter reason code.
 */
CREATE FUNCTION skeldir._map_paypal(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e      skeldir.webhook_event;
    _res    jsonb;
    _custom text;
    _sale   boolean;
BEGIN
    _e.topic := skeldir._text(doc, 'event_type');
    _e.supported := _e.topic IN ('PAYMENT.CAPTURE.COMPLETED', 'PAYMENT.SALE.COMPLETED',
                                 'PAYMENT.CAPTURE.REFUNDED', 'PAYMENT.SALE.REFUNDED');
    IF NOT _e.supported THEN
        RETURN ARRAY[_e];
    END IF;
    _e.vendor_event_id := skeldir._text(doc, 'id');
    _res := skeldir._field(doc, 'resource', 'object');
    _sale := _e.topic LIKE 'PAYMENT.SALE.%';
    _e.kind := CASE WHEN _e.topic LIKE '%.REFUNDED' THEN 'refund' ELSE 'payment' END;
    _e.currency := skeldir._currency(skeldir._text(doc,
        CASE WHEN _sale THEN 'resource.amount.currency' ELSE 'resource.amount.currency_code' END));
    _e.amount_minor := skeldir._minor_units(skeldir._decimal(doc,
        CASE WHEN _sale THEN 'resource.amount.total' ELSE 'resource.amount.value' END), _e.currency);
    IF _e.amount_minor < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount', DETAIL = 'amount is negative';
    END IF;
    IF _e.kind = 'refund' THEN
        _e.amount_minor := -_e.amount_minor;
        _e.payment_ref := coalesce(
            CASE WHEN _sale THEN skeldir._optional_ident(_res, 'sale_id') END,
            (SELECT (pg_catalog.regexp_match(l.value ->> 'href', '/captures/([^/?#]+)'))[1]
               FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(_res -> 'links') = 'array'
                                                         THEN _res -> 'links' ELSE '[]' END) AS l
              WHERE l.value ->> 'rel' = 'up' LIMIT 1),
            skeldir._text(doc, 'resource.id'));
    ELSE
        _e.payment_ref := skeldir._text(doc, 'resource.id');
    END IF;
    _e.fact_key := _e.kind || ':' || skeldir._text(doc, 'resource.id');
    _e.occurred_at := skeldir._timestamp(doc, 'create_time');
    _e.order_ref := coalesce(skeldir._optional_ident(_res, 'invoice_id'), skeldir._optional_ident(_res, 'invoice_number'),
                             skeldir._optional_ident(_res, 'supplementary_data.related_ids.order_id'));
    _custom := coalesce(_res ->> 'custom_id', _res ->> 'custom');
    _e.utm_source := skeldir._query_param(_custom, 'utm_source');
    _e.utm_medium := skeldir._query_param(_custom, 'utm_medium');
    _e.utm_campaign := skeldir._query_param(_custom, 'utm_campaign');
    _e.referrer := skeldir._query_param(_custom, 'referrer');
    _e.landing_page := skeldir._query_param(_custom, 'landing_page');
    _e.customer_email := coalesce(_res #>> '{payer,email_address}', _res #>> '{payer,payer_info,email}',
                                  doc #>> '{resource,payer_email}');
    RETURN ARRAY[_e];
END;
$$;
COMMENT ON FUNCTION skeldir._map_paypal(jsonb, jsonb) IS
    'Maps a PayPal webhook event to its payment or refund fact. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

/**
 * What is stored of a PayPal event (SPEC §5, privacy by construction): exactly the fields
 * skeldir._map_paypal reads, in the same shape, so a dead letter's projection replays like
 * the delivery itself. The payer, the shipping details and every other resource field are
 * not kept; custom_id keeps only what the attribution reads (masked if it holds an email).
 * Never raises.
 */
CREATE FUNCTION skeldir._project_paypal(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = '' AS $$
DECLARE
    _res   jsonb := doc -> 'resource';
    _links jsonb := _res -> 'links';
BEGIN
    IF pg_catalog.jsonb_typeof(doc) <> 'object' THEN
        RETURN NULL;  -- not_an_object: nothing is kept but the body's hash and length
    END IF;
    IF pg_catalog.jsonb_typeof(_links) = 'array' THEN
        _links := (
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'rel', l.value -> 'rel', 'href', skeldir._keep_text(l.value -> 'href')) ORDER BY l.ord)
              FROM pg_catalog.jsonb_array_elements(_links) WITH ORDINALITY AS l (value, ord)
             WHERE l.value ->> 'rel' = 'up');
    ELSE
        _links := NULL;
    END IF;
    RETURN pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'id', skeldir._keep_scalar(doc -> 'id'),
        'event_type', skeldir._keep_scalar(doc -> 'event_type'),
        'create_time', skeldir._keep_scalar(doc -> 'create_time'),
        'resource', CASE WHEN pg_catalog.jsonb_typeof(_res) = 'object' THEN pg_catalog.jsonb_build_object(
            'id', skeldir._keep_scalar(_res -> 'id'),
            'sale_id', skeldir._keep_scalar(_res -> 'sale_id'),
            'invoice_id', skeldir._keep_scalar(_res -> 'invoice_id'),
            'invoice_number', skeldir._keep_scalar(_res -> 'invoice_number'),
            'custom_id', skeldir._keep_text(_res -> 'custom_id'),
            'custom', skeldir._keep_text(_res -> 'custom'),
            'amount', CASE WHEN pg_catalog.jsonb_typeof(_res -> 'amount') = 'object' THEN pg_catalog.jsonb_build_object(
                'total', skeldir._keep_scalar(_res #> '{amount,total}'),
                'value', skeldir._keep_scalar(_res #> '{amount,value}'),
                'currency', skeldir._keep_scalar(_res #> '{amount,currency}'),
                'currency_code', skeldir._keep_scalar(_res #> '{amount,currency_code}'))
                ELSE skeldir._keep_shape(_res -> 'amount') END,
            'supplementary_data', CASE WHEN _res #> '{supplementary_data,related_ids,order_id}' IS NOT NULL THEN
                pg_catalog.jsonb_build_object('related_ids', pg_catalog.jsonb_build_object(
                    'order_id', skeldir._keep_scalar(_res #> '{supplementary_data,related_ids,order_id}'))) END,
            'links', _links)
            ELSE skeldir._keep_shape(_res) END));
END;
$$;
COMMENT ON FUNCTION skeldir._project_paypal(jsonb) IS
    'What is stored of a PayPal event: the fields its mapping reads, nothing else.';

COMMIT;
