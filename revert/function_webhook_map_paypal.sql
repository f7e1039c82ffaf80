-- Revert skeldir:function_webhook_map_paypal from pg
-- Restores the v1.0.0 mapping (deploy/function_webhook_map_paypal@v1.0.0.sql, verbatim).
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
CREATE OR REPLACE FUNCTION skeldir._map_paypal(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
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

COMMIT;
