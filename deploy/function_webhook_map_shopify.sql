-- Deploy skeldir:function_webhook_map_shopify to pg
BEGIN;

/**
 * Shopify delivery -> canonical event. The topic comes from X-Shopify-Topic and the dedupe
 * key from X-Shopify-Webhook-Id (one per delivery, stable across retries; X-Shopify-Event-Id
 * is shared by every topic of one merchant action, so it would merge orders/create with
 * orders/paid). Both header spellings, with and without "X-", are accepted.
 *   orders/create  -> order   (total_price, currency, created_at)
 *   orders/paid    -> payment (total_price, currency, processed_at | updated_at | created_at)
 *   refunds/create -> refund  (minus the sum of transactions[].amount of kind refund that
 *                              did not fail; 0 when the refund moved no money)
 * Order ids exceed 2^53: they are read as exact jsonb numerics, never floats. Money is a
 * decimal string converted exactly to minor units. Attribution: utm_* from note_attributes
 * (cart attributes a storefront script sets) before the landing_site query string;
 * referrer = referring_site; landing_page = landing_site; utm_medium falls back to the
 * order's source_name only when nothing else says where the order came from.
 * Raises SK422 with a dead-letter reason code.
 */
CREATE FUNCTION skeldir._map_shopify(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event
LANGUAGE plpgsql STABLE AS $$
DECLARE
    _e       skeldir.webhook_event;
    _notes   jsonb;
    _landing text;
    _refund  jsonb;
    _total   numeric := 0;
    _tx      jsonb;
BEGIN
    _e.topic := skeldir._header(headers, 'shopify-topic');
    IF _e.topic IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:header.x-shopify-topic';
    END IF;
    _e.supported := _e.topic IN ('orders/create', 'orders/paid', 'refunds/create');
    IF NOT _e.supported THEN
        RETURN _e;
    END IF;
    _e.vendor_event_id := skeldir._header(headers, 'shopify-webhook-id');
    IF _e.vendor_event_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:header.x-shopify-webhook-id';
    END IF;

    IF _e.topic = 'refunds/create' THEN
        _e.kind := 'refund';
        _e.order_ref := skeldir._ident(doc, 'order_id');
        _e.occurred_at := skeldir._timestamp(doc, CASE WHEN doc ? 'processed_at' AND doc ->> 'processed_at' IS NOT NULL
                                                       THEN 'processed_at' ELSE 'created_at' END);
        _refund := skeldir._field(doc, 'transactions', 'array');
        FOR _tx IN SELECT t.value FROM pg_catalog.jsonb_array_elements(_refund) AS t LOOP
            CONTINUE WHEN coalesce(_tx ->> 'kind', 'refund') <> 'refund'
                       OR coalesce(_tx ->> 'status', 'success') IN ('failure', 'error');
            _e.currency := coalesce(_e.currency, skeldir._currency(skeldir._text(_tx, 'currency')));
            _e.payment_ref := coalesce(_e.payment_ref, _tx ->> 'parent_id', _tx ->> 'id');
            _total := _total + skeldir._minor_units(skeldir._decimal(_tx, 'amount'), _e.currency);
        END LOOP;
        -- A refund that moved no money (restock only) still records the order's currency.
        _e.currency := coalesce(_e.currency, skeldir._currency(coalesce(
            doc #>> '{order_adjustments,0,currency}', doc #>> '{transactions,0,currency}', skeldir._text(doc, 'currency'))));
        _e.amount_minor := -pg_catalog.abs(_total)::bigint;
        RETURN _e;
    END IF;

    _e.kind := CASE _e.topic WHEN 'orders/create' THEN 'order' ELSE 'payment' END;
    _e.order_ref := skeldir._ident(doc, 'id');
    _e.payment_ref := CASE WHEN _e.kind = 'payment' THEN _e.order_ref END;
    _e.currency := skeldir._currency(skeldir._text(doc, 'currency'));
    _e.amount_minor := skeldir._minor_units(skeldir._decimal(doc, 'total_price'), _e.currency);
    IF _e.amount_minor < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount', DETAIL = 'total_price is negative';
    END IF;
    _e.occurred_at := skeldir._timestamp(doc, CASE
        WHEN _e.kind = 'payment' AND doc ->> 'processed_at' IS NOT NULL THEN 'processed_at'
        WHEN _e.kind = 'payment' AND doc ->> 'updated_at' IS NOT NULL THEN 'updated_at'
        ELSE 'created_at' END);

    SELECT coalesce(pg_catalog.jsonb_object_agg(pg_catalog.lower(n.value ->> 'name'), n.value ->> 'value'), '{}')
      INTO _notes
      FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(doc -> 'note_attributes') = 'array'
                                                THEN doc -> 'note_attributes' ELSE '[]' END) AS n
     WHERE pg_catalog.jsonb_typeof(n.value) = 'object' AND n.value ->> 'name' IS NOT NULL;
    _landing := nullif(doc ->> 'landing_site', '');
    _e.landing_page := _landing;
    _e.referrer := coalesce(nullif(doc ->> 'referring_site', ''), _notes ->> 'referrer');
    _e.utm_source := coalesce(_notes ->> 'utm_source', skeldir._query_param(_landing, 'utm_source'));
    _e.utm_medium := coalesce(_notes ->> 'utm_medium', skeldir._query_param(_landing, 'utm_medium'));
    _e.utm_campaign := coalesce(_notes ->> 'utm_campaign', skeldir._query_param(_landing, 'utm_campaign'));
    IF _e.utm_source IS NULL AND _e.utm_medium IS NULL AND _e.referrer IS NULL
       AND doc ->> 'source_name' NOT IN ('web', 'shopify_draft_order', '') THEN
        _e.utm_medium := doc ->> 'source_name';  -- pos, iphone, a sales-channel app id ...
    END IF;
    _e.customer_email := coalesce(nullif(doc ->> 'email', ''), nullif(doc ->> 'contact_email', ''),
                                  doc #>> '{customer,email}');
    RETURN _e;
END;
$$;
COMMENT ON FUNCTION skeldir._map_shopify(jsonb, jsonb) IS
    'Maps a Shopify delivery. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

COMMIT;
