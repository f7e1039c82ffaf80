-- Deploy skeldir:function_webhook_map_shopify to pg
-- Reworked after v1.0.0 (issue 21, lever 4): the same facts, keys and refusals, read more
-- cheaply: every field helper it calls is inlined (skeldir._field and the rest are BEGIN ATOMIC
-- expressions since function_webhook_field was reworked), the currency is looked up once per
-- delivery with its exponent, and a query over an array runs only when the array is there.
-- The projection (skeldir._project_shopify) is unchanged: see function_webhook_map_shopify@v1.0.0.
BEGIN;

/**
 * One Shopify refund (a refunds/create document, or an element of an order's refunds[])
 * -> the refund fact 'refund:<refund id>': minus the sum of its transactions of kind
 * refund that did not fail (0 when the refund moved no money, a restock), pointing at the
 * refunded order and at the transaction it refunds. currency: the order's, for a refund
 * without transactions. Raises SK422 with a dead-letter reason code. The currency is looked up
 * once, with its exponent; the field helpers are inlined expressions.
 */
CREATE OR REPLACE FUNCTION skeldir._shopify_refund(refund jsonb, order_id text, currency text)
RETURNS skeldir.webhook_event
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e     skeldir.webhook_event;
    _total numeric := 0;
    _tx    jsonb;
    _code  text;
    _exp   integer;
    _amount text;
BEGIN
    _e.supported := true;
    _e.kind := 'refund';
    _e.fact_key := 'refund:' || skeldir._ident(refund, 'id');
    _e.order_ref := order_id;
    _e.occurred_at := CASE WHEN refund ->> 'processed_at' IS NOT NULL
                           THEN skeldir._timestamp(refund, 'processed_at')
                           ELSE skeldir._timestamp(refund, 'created_at') END;
    FOR _tx IN SELECT t.value FROM pg_catalog.jsonb_array_elements(skeldir._field(refund, 'transactions', 'array')) AS t LOOP
        CONTINUE WHEN pg_catalog.jsonb_typeof(_tx) <> 'object'
                   OR coalesce(_tx ->> 'kind', 'refund') <> 'refund'
                   OR coalesce(_tx ->> 'status', 'success') IN ('failure', 'error');
        IF _e.currency IS NULL THEN  -- the first transaction's currency, looked up once
            _code := skeldir._text(_tx, 'currency');
            SELECT c.exponent INTO _exp FROM skeldir.currencies AS c
             WHERE c.code = pg_catalog.upper(pg_catalog.btrim(_code))::bpchar;
            _e.currency := CASE WHEN FOUND THEN pg_catalog.upper(pg_catalog.btrim(_code))
                                ELSE skeldir._currency(_code) END;
        END IF;
        _e.payment_ref := coalesce(_e.payment_ref, skeldir._optional_ident(_tx, 'parent_id'),
                                   skeldir._optional_ident(_tx, 'id'));
        _amount := skeldir._decimal(_tx, 'amount');  -- a variable: the inlined conversion reads it often
        _total := _total + skeldir._minor_units_at(_amount, _e.currency, _exp);
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
CREATE OR REPLACE FUNCTION skeldir._map_shopify(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[]
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _e       skeldir.webhook_event;
    _r       skeldir.webhook_event;
    _facts   skeldir.webhook_event[];
    _notes   jsonb;
    _landing text;
    _refund  record;
    _code    text;
    _exp     integer;
    _amount  text;
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
    _code := skeldir._text(doc, 'currency');
    -- One lookup gives the code and its exponent; an unknown code is refused by skeldir._currency,
    -- with the same reason and detail as before.
    SELECT c.exponent INTO _exp FROM skeldir.currencies AS c
     WHERE c.code = pg_catalog.upper(pg_catalog.btrim(_code))::bpchar;
    _e.currency := CASE WHEN FOUND THEN pg_catalog.upper(pg_catalog.btrim(_code)) ELSE skeldir._currency(_code) END;
    _amount := skeldir._decimal(doc, 'total_price');  -- a variable: the inlined conversion reads it often
    _e.amount_minor := skeldir._minor_units_at(_amount, _e.currency, _exp);
    IF _e.amount_minor < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount', DETAIL = 'total_price is negative';
    END IF;
    _e.occurred_at := skeldir._timestamp(doc, 'created_at');

    _notes := '{}';
    IF pg_catalog.jsonb_typeof(doc -> 'note_attributes') = 'array' THEN  -- a query only when there is a list
        SELECT coalesce(pg_catalog.jsonb_object_agg(pg_catalog.lower(n.value ->> 'name'), n.value ->> 'value'), '{}')
          INTO _notes
          FROM pg_catalog.jsonb_array_elements(doc -> 'note_attributes') AS n
         WHERE pg_catalog.jsonb_typeof(n.value) = 'object' AND n.value ->> 'name' IS NOT NULL;
    END IF;
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
        _e.occurred_at := CASE  -- a constant path each: inlined, folded
            WHEN doc ->> 'processed_at' IS NOT NULL THEN skeldir._timestamp(doc, 'processed_at')
            WHEN doc ->> 'updated_at' IS NOT NULL THEN skeldir._timestamp(doc, 'updated_at')
            ELSE skeldir._timestamp(doc, 'created_at') END;
        _facts := _facts || _e;
    END IF;

    IF pg_catalog.jsonb_typeof(doc -> 'refunds') = 'array' THEN  -- a query only when there is a list
        FOR _refund IN
            SELECT r.value, r.ord
              FROM pg_catalog.jsonb_array_elements(doc -> 'refunds') WITH ORDINALITY AS r (value, ord)
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
    END IF;
    RETURN _facts;
END;
$$;
COMMENT ON FUNCTION skeldir._map_shopify(jsonb, jsonb) IS
    'Maps a Shopify delivery to its order, payment and refund facts. Raises SK422 missing_field:<path> | bad_type:<path> | bad_amount | bad_currency.';

COMMIT;
