-- Deploy skeldir:function_webhook_map_shopify to pg
BEGIN;

/**
 * One Shopify refund (a refunds/create document, or an element of an order's refunds[])
 * -> the refund fact 'refund:<refund id>': minus the sum of its transactions of kind
 * refund that did not fail (0 when the refund moved no money, a restock), pointing at the
 * refunded order and at the transaction it refunds. currency: the order's, for a refund
 * without transactions. Raises SK422 with a dead-letter reason code.
 */
CREATE FUNCTION skeldir._shopify_refund(refund jsonb, order_id text, currency text)
RETURNS skeldir.webhook_event
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e     skeldir.webhook_event;
    _total numeric := 0;
    _tx    jsonb;
BEGIN
    _e.supported := true;
    _e.kind := 'refund';
    _e.fact_key := 'refund:' || skeldir._ident(refund, 'id');
    _e.order_ref := order_id;
    _e.occurred_at := skeldir._timestamp(refund, CASE WHEN refund ->> 'processed_at' IS NOT NULL
                                                      THEN 'processed_at' ELSE 'created_at' END);
    FOR _tx IN SELECT t.value FROM pg_catalog.jsonb_array_elements(skeldir._field(refund, 'transactions', 'array')) AS t LOOP
        CONTINUE WHEN pg_catalog.jsonb_typeof(_tx) <> 'object'
                   OR coalesce(_tx ->> 'kind', 'refund') <> 'refund'
                   OR coalesce(_tx ->> 'status', 'success') IN ('failure', 'error');
        _e.currency := coalesce(_e.currency, skeldir._currency(skeldir._text(_tx, 'currency')));
        _e.payment_ref := coalesce(_e.payment_ref, skeldir._optional_ident(_tx, 'parent_id'),
                                   skeldir._optional_ident(_tx, 'id'));
        _total := _total + skeldir._minor_units(skeldir._decimal(_tx, 'amount'), _e.currency);
    END LOOP;
    -- A refund that moved no money (restock only) still records the order's currency.
    _e.currency := coalesce(_e.currency, skeldir._currency(coalesce(
        refund #>> '{order_adjustments,0,currency}', currency)));
    _e.amount_minor := -pg_catalog.abs(_total)::bigint;
    RETURN _e;
END;
$$;
COMMENT ON FUNCTION skeldir._shopify_refund(jsonb, text, text) IS
    'A Shopify refund as the fact refund:<id>. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

/**
 * Shopify delivery -> revenue facts (SPEC §5). The topic comes from X-Shopify-Topic; both
 * header spellings, with and without "X-", are accepted. X-Shopify-Webhook-Id names the
 * delivery (kept for tracing); the facts key on what the merchant's shop holds, because
 * two subscriptions of one shop deliver the same event under two webhook ids, and
 * X-Shopify-Event-Id is shared by every topic of one merchant action:
 *   orders/create, orders/updated, orders/paid (an order document)
 *       -> order   'order:<id>'    (total_price, created_at)
 *       -> payment 'payment:<id>'  on the paid transition: the orders/paid topic, or an
 *                                  orders/updated whose financial_status is paid |
 *                                  partially_refunded | refunded (it carries a lost
 *                                  orders/paid); orders/create describes the order only
 *                                  (total_price, processed_at | updated_at | created_at)
 *       -> refund  'refund:<id>'   for each element of refunds[]
 *   refunds/create -> refund 'refund:<id>' (skeldir._shopify_refund)
 * So any subset of these topics, in any order, records each order, payment and refund once,
 * and a later order document carries the state of a lost delivery.
 * Order ids exceed 2^53: they are read as exact jsonb numerics, never floats. Money is a
 * decimal string converted exactly to minor units. Attribution: utm_* from note_attributes
 * (cart attributes a storefront script sets) before the landing_site query string;
 * referrer = referring_site; landing_page = landing_site; utm_medium falls back to the
 * order's source_name only when nothing else says where the order came from.
 * Raises SK422 with a dead-letter reason code.
 */
CREATE FUNCTION skeldir._map_shopify(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e       skeldir.webhook_event;
    _r       skeldir.webhook_event;
    _facts   skeldir.webhook_event[];
    _notes   jsonb;
    _landing text;
    _refund  record;
BEGIN
    _e.topic := skeldir._header(headers, 'shopify-topic');
    IF _e.topic IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:header.x-shopify-topic';
    END IF;
    _e.supported := _e.topic IN ('orders/create', 'orders/updated', 'orders/paid', 'refunds/create');
    IF NOT _e.supported THEN
        RETURN ARRAY[_e];
    END IF;
    _e.vendor_event_id := skeldir._header(headers, 'shopify-webhook-id');
    IF _e.vendor_event_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:header.x-shopify-webhook-id';
    END IF;

    IF _e.topic = 'refunds/create' THEN
        _r := skeldir._shopify_refund(doc, skeldir._ident(doc, 'order_id'),
                                      coalesce(doc #>> '{transactions,0,currency}', doc ->> 'currency'));
        _r.topic := _e.topic;
        _r.vendor_event_id := _e.vendor_event_id;
        RETURN ARRAY[_r];
    END IF;

    _e.kind := 'order';
    _e.order_ref := skeldir._ident(doc, 'id');
    _e.fact_key := 'order:' || _e.order_ref;
    _e.currency := skeldir._currency(skeldir._text(doc, 'currency'));
    _e.amount_minor := skeldir._minor_units(skeldir._decimal(doc, 'total_price'), _e.currency);
    IF _e.amount_minor < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount', DETAIL = 'total_price is negative';
    END IF;
    _e.occurred_at := skeldir._timestamp(doc, 'created_at');

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
    _facts := ARRAY[_e];

    IF _e.topic = 'orders/paid'
       OR (_e.topic = 'orders/updated' AND doc ->> 'financial_status' IN ('paid', 'partially_refunded', 'refunded')) THEN
        _e.kind := 'payment';
        _e.fact_key := 'payment:' || _e.order_ref;
        _e.payment_ref := _e.order_ref;
        _e.occurred_at := skeldir._timestamp(doc, CASE
            WHEN doc ->> 'processed_at' IS NOT NULL THEN 'processed_at'
            WHEN doc ->> 'updated_at' IS NOT NULL THEN 'updated_at'
            ELSE 'created_at' END);
        _facts := _facts || _e;
    END IF;

    FOR _refund IN
        SELECT r.value, r.ord
          FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(doc -> 'refunds') = 'array'
                                                    THEN doc -> 'refunds' ELSE '[]' END) WITH ORDINALITY AS r (value, ord)
    LOOP
        IF pg_catalog.jsonb_typeof(_refund.value) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_type:refunds.' || (_refund.ord - 1);
        END IF;
        _r := skeldir._shopify_refund(_refund.value, _e.order_ref, _e.currency);
        _r.topic := _e.topic;
        _r.vendor_event_id := _e.vendor_event_id;
        _r.utm_source := _e.utm_source;
        _r.utm_medium := _e.utm_medium;
        _r.utm_campaign := _e.utm_campaign;
        _r.referrer := _e.referrer;
        _r.landing_page := _e.landing_page;
        _r.customer_email := _e.customer_email;
        _facts := _facts || _r;
    END LOOP;
    RETURN _facts;
END;
$$;
COMMENT ON FUNCTION skeldir._map_shopify(jsonb, jsonb) IS
    'Maps a Shopify delivery to its order, payment and refund facts. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

/** A Shopify refund as stored: what skeldir._shopify_refund reads (see skeldir._project_shopify). */
CREATE FUNCTION skeldir._project_shopify_refund(refund jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = '' AS $$
DECLARE
    _transactions jsonb := refund -> 'transactions';
BEGIN
    IF pg_catalog.jsonb_typeof(refund) <> 'object' THEN
        RETURN 'null';  -- kept as a null element: the mapping refuses it the same way on replay
    END IF;
    IF pg_catalog.jsonb_typeof(_transactions) = 'array' THEN
        _transactions := (
            SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'id', skeldir._keep_scalar(t.value -> 'id'),
                       'parent_id', skeldir._keep_scalar(t.value -> 'parent_id'),
                       'kind', skeldir._keep_scalar(t.value -> 'kind'),
                       'status', skeldir._keep_scalar(t.value -> 'status'),
                       'currency', skeldir._keep_scalar(t.value -> 'currency'),
                       'amount', skeldir._keep_scalar(t.value -> 'amount')) ORDER BY t.ord), '[]')
              FROM pg_catalog.jsonb_array_elements(_transactions) WITH ORDINALITY AS t (value, ord)
             WHERE pg_catalog.jsonb_typeof(t.value) = 'object');
    ELSE
        _transactions := skeldir._keep_shape(_transactions);
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'id', skeldir._keep_scalar(refund -> 'id'),
        'order_id', skeldir._keep_scalar(refund -> 'order_id'),
        'currency', skeldir._keep_scalar(refund -> 'currency'),
        'processed_at', skeldir._keep_scalar(refund -> 'processed_at'),
        'created_at', skeldir._keep_scalar(refund -> 'created_at'),
        'order_adjustments', CASE WHEN refund #> '{order_adjustments,0,currency}' IS NOT NULL THEN
            pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'currency', skeldir._keep_scalar(refund #> '{order_adjustments,0,currency}'))) END,
        'transactions', _transactions);
END;
$$;
COMMENT ON FUNCTION skeldir._project_shopify_refund(jsonb) IS 'What is stored of a Shopify refund.';

/**
 * What is stored of a Shopify order or refund document (SPEC §5, privacy by construction):
 * exactly the fields skeldir._map_shopify reads, in the same shape, plus the line items' ids,
 * quantities and prices, so a dead letter's projection replays like the delivery itself.
 * The customer, addresses, emails, phones, client details, notes and every note attribute
 * other than the attribution ones are not kept. Never raises. Arrays are projected by
 * queries only when present; the rest is one simple expression, planned once.
 */
CREATE FUNCTION skeldir._project_shopify(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = '' AS $$
DECLARE
    _notes   jsonb := doc -> 'note_attributes';
    _refunds jsonb := doc -> 'refunds';
    _items   jsonb := doc -> 'line_items';
BEGIN
    IF pg_catalog.jsonb_typeof(doc) <> 'object' THEN
        RETURN NULL;  -- not_an_object: nothing is kept but the body's hash and length
    END IF;
    IF pg_catalog.jsonb_typeof(_notes) = 'array' THEN
        _notes := (
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'name', n.value -> 'name', 'value', skeldir._keep_text(n.value -> 'value')) ORDER BY n.ord)
              FROM pg_catalog.jsonb_array_elements(_notes) WITH ORDINALITY AS n (value, ord)
             WHERE pg_catalog.jsonb_typeof(n.value) = 'object'
               AND pg_catalog.lower(n.value ->> 'name') IN ('utm_source', 'utm_medium', 'utm_campaign', 'referrer'));
    ELSE
        _notes := NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(_refunds) = 'array' THEN
        _refunds := (
            SELECT coalesce(pg_catalog.jsonb_agg(skeldir._project_shopify_refund(r.value) ORDER BY r.ord), '[]')
              FROM pg_catalog.jsonb_array_elements(_refunds) WITH ORDINALITY AS r (value, ord));
    ELSE
        _refunds := NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(_items) = 'array' THEN
        _items := (
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'id', skeldir._keep_scalar(l.value -> 'id'),
                       'product_id', skeldir._keep_scalar(l.value -> 'product_id'),
                       'variant_id', skeldir._keep_scalar(l.value -> 'variant_id'),
                       'quantity', skeldir._keep_scalar(l.value -> 'quantity'),
                       'price', skeldir._keep_scalar(l.value -> 'price')) ORDER BY l.ord)
              FROM pg_catalog.jsonb_array_elements(_items) WITH ORDINALITY AS l (value, ord)
             WHERE pg_catalog.jsonb_typeof(l.value) = 'object');
    ELSE
        _items := NULL;
    END IF;
    RETURN pg_catalog.jsonb_strip_nulls(skeldir._project_shopify_refund(doc) || pg_catalog.jsonb_build_object(
        'total_price', skeldir._keep_scalar(doc -> 'total_price'),
        'financial_status', skeldir._keep_scalar(doc -> 'financial_status'),
        'updated_at', skeldir._keep_scalar(doc -> 'updated_at'),
        'source_name', skeldir._keep_scalar(doc -> 'source_name'),
        'landing_site', skeldir._keep_text(doc -> 'landing_site'),
        'referring_site', skeldir._keep_text(doc -> 'referring_site'),
        'note_attributes', _notes,
        'refunds', _refunds,
        'line_items', _items));
END;
$$;
COMMENT ON FUNCTION skeldir._project_shopify(jsonb) IS
    'What is stored of a Shopify document: the fields its mapping reads and the line items'' ids, nothing else.';

COMMIT;
