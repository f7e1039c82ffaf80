-- Vendor mappings: money per ISO 4217 exponent, timestamps in UTC, exact ids, reason codes, projections.
BEGIN;
SELECT plan(46);

SELECT has_function('skeldir', '_map_' || v, ARRAY['jsonb', 'jsonb'], v || ' mapping exists')
  FROM unnest('{stripe,shopify,woocommerce,paypal,standard}'::text[]) AS v;

-- Money test vectors.
SELECT is(skeldir._minor_units('500', 'JPY'), 500::bigint, 'JPY has exponent 0');
SELECT is(skeldir._minor_units('19.99', 'usd'), 1999::bigint, 'USD has exponent 2 (code case-insensitive)');
SELECT is(skeldir._minor_units('12.345', 'KWD'), 12345::bigint, 'KWD has exponent 3');
SELECT is(skeldir._minor_units('0.1', 'USD'), 10::bigint, 'fewer decimals than the exponent');
SELECT is(skeldir._minor_units('-5.00', 'EUR'), -500::bigint, 'negative amounts stay exact');
SELECT is(skeldir._minor_units('92233720368547758.07', 'USD'), 9223372036854775807::bigint, 'bigint maximum');
SELECT throws_ok($$SELECT skeldir._minor_units('10.5', 'JPY')$$, 'SK422', 'bad_amount', 'JPY has no minor unit');
SELECT throws_ok($$SELECT skeldir._minor_units('1.0001', 'KWD')$$, 'SK422', 'bad_amount', 'finer than fils');
SELECT throws_ok($$SELECT skeldir._minor_units('1e3', 'USD')$$, 'SK422', 'bad_amount', 'no exponent notation');
SELECT throws_ok($$SELECT skeldir._minor_units('1', 'ZZZ')$$, 'SK422', 'bad_currency', 'unknown currency');

-- Timestamps: _gmt without offset is UTC, whatever the session time zone.
SET LOCAL TIME ZONE 'Asia/Tokyo';
SELECT is(skeldir._timestamp('{"t": "2024-03-01T10:00:00"}', 't'), '2024-03-01 10:00:00+00'::timestamptz,
          'no offset means UTC');
SELECT is(skeldir._timestamp('{"t": "2024-03-01T10:00:00-05:00"}', 't'), '2024-03-01 15:00:00+00'::timestamptz,
          'an offset is honoured');
SELECT is(skeldir._timestamp('{"t": "2024-03-01T10:00:00.123Z"}', 't'), '2024-03-01 10:00:00.123+00'::timestamptz,
          'Z and fractions');
SELECT throws_ok($$SELECT skeldir._timestamp('{"t": "2024-02-30T00:00:00"}', 't')$$, 'SK422', 'bad_type:t',
                 'an impossible date is bad_type');
SELECT throws_ok($$SELECT skeldir._timestamp('{}', 't')$$, 'SK422', 'missing_field:t', 'a missing date');
RESET TIME ZONE;

-- The field helpers are inlined (issue 21, lever 4): single SQL-standard expressions, no SET,
-- not volatile; what they do not vouch for goes to the v1.0.0 code (PL/pgSQL, pinned).
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE oid IN ('skeldir._field(jsonb,text,text)'::regprocedure, 'skeldir._text(jsonb,text)'::regprocedure,
                          'skeldir._ident(jsonb,text)'::regprocedure, 'skeldir._optional_ident(jsonb,text)'::regprocedure,
                          'skeldir._minor_integer(jsonb,text)'::regprocedure, 'skeldir._decimal(jsonb,text)'::regprocedure,
                          'skeldir._minor_units_at(text,text,integer)'::regprocedure,
                          'skeldir._query_param(text,text)'::regprocedure, 'skeldir._timestamp(jsonb,text)'::regprocedure)
              AND prosqlbody IS NOT NULL AND proconfig IS NULL AND NOT prosecdef AND provolatile <> 'v'),
          9, 'the per-field helpers are inlinable BEGIN ATOMIC expressions');
SELECT is(skeldir._optional_ident('{"a": null}', 'a'), NULL, 'JSON null is an absent optional id');
SELECT throws_ok($$SELECT skeldir._text('{"a": {"b": 1}}', 'a.b')$$, 'SK422', 'bad_type:a.b', 'a number is not a string');
SELECT throws_ok($$SELECT skeldir._text('{"a": "  "}', 'a')$$, 'SK422', 'missing_field:a', 'a blank string is missing');
SELECT is(skeldir._ident('{"a": {"b": 18446744073709551617}}', 'a.b'), '18446744073709551617', 'an exact number id, nested');
SELECT throws_ok($$SELECT skeldir._optional_ident('{"a": [1]}', 'a')$$, 'SK422', 'bad_type:a', 'an array is not an id');
SELECT throws_ok($$SELECT skeldir._minor_integer('{"a": 1.5}', 'a')$$, 'SK422', 'bad_amount', 'minor units are whole');
SELECT is(skeldir._minor_units_at(' 12.300 ', 'USD', 2), 1230::bigint, 'a known exponent: exact, trailing zeros allowed');
SELECT throws_ok($$SELECT skeldir._minor_units_at('10.5', 'JPY', 0)$$, 'SK422', 'bad_amount', 'finer than the exponent');
SELECT is(ARRAY[skeldir._query_param('/?x=1&utm_source=a', 'utm_source'), skeldir._query_param('xutm_source=1&utm_source=2', 'utm_source'),
                skeldir._query_param('/?utm_source=a+b%21', 'utm_source'), skeldir._query_param('/?utm_source=&b', 'utm_source'),
                skeldir._query_param('/#utm_source=z', 'utm_source'), skeldir._query_param(NULL, 'utm_source')],
          ARRAY['a', '2', 'a b!', NULL, NULL, NULL], 'query parameters: plain, after a look-alike, decoded, empty, in a fragment, none');
SELECT is(ARRAY[skeldir._timestamp('{"t": "2024-02-29T23:00:00-02:00"}', 't'), skeldir._timestamp('{"t": "2024-12-31"}', 't'),
                skeldir._timestamp('{"t": "2024-06-30 10:00:00.5+0530"}', 't')],
          ARRAY['2024-03-01 01:00:00+00', '2024-12-31 00:00:00+00', '2024-06-30 04:30:00.5+00']::timestamptz[],
          'timestamps on and off the fast path');
SELECT throws_ok($$SELECT skeldir._timestamp('{"t": "2023-02-29T00:00:00Z"}', 't')$$, 'SK422', 'bad_type:t',
                 'the 29th of February of a common year is bad_type');

-- Shopify.
SELECT is((skeldir._map_shopify('{"shopify-topic": "orders/create", "shopify-webhook-id": "w1"}',
          '{"id": 18446744073709551617, "currency": "USD", "total_price": "10.01",
            "created_at": "2024-01-01T00:00:00Z"}'))[1].order_ref, '18446744073709551617',
          'Shopify: order ids beyond 2^64 kept digit for digit; un-prefixed headers');
SELECT is((skeldir._map_shopify('{"x-shopify-topic": "orders/create", "x-shopify-webhook-id": "w1"}',
          '{"id": 1, "currency": "USD", "total_price": "10.01", "created_at": "2024-01-01T00:00:00Z"}'))[1].vendor_event_id,
          'w1', 'Shopify: the webhook id names the delivery');
SELECT throws_ok($$SELECT skeldir._map_shopify('{"x-shopify-topic": "orders/create"}', '{}')$$, 'SK422',
                 'missing_field:header.x-shopify-webhook-id', 'Shopify: no webhook id is a dead letter');
SELECT is((skeldir._map_shopify('{"x-shopify-topic": "carts/update", "x-shopify-webhook-id": "w1"}', '{}'))[1].supported,
          false, 'Shopify: other topics are unsupported');
SELECT is((SELECT ROW(e.utm_source, e.utm_medium, e.utm_campaign)::text FROM unnest(skeldir._map_shopify(
          '{"x-shopify-topic": "orders/paid", "x-shopify-webhook-id": "w2"}',
          '{"id": 1, "currency": "USD", "total_price": "1.00", "created_at": "2024-01-01T00:00:00Z",
            "landing_site": "/?utm_source=google&utm_medium=cpc&utm_campaign=black%20friday",
            "note_attributes": [{"name": "utm_source", "value": "bing"}]}')) AS e LIMIT 1),
          '(bing,cpc,"black friday")', 'Shopify: note_attributes before the landing_site query (decoded)');

-- WooCommerce.
SELECT is((SELECT array_agg(ROW(e.kind, e.amount_minor, e.fact_key, e.occurred_at)::text) FROM unnest(skeldir._map_woocommerce(
          '{"x-wc-webhook-topic": "order.updated"}',
          '{"id": 7, "status": "completed", "currency": "EUR", "total": "50.00", "date_modified_gmt": "2024-03-02T00:00:00",
            "date_paid_gmt": "2024-03-01T00:00:00",
            "refunds": [{"id": 12, "total": "-5.50"}, {"id": 11, "total": "-1.00"}]}')) AS e),
          ARRAY[ROW('order', 5000, 'order:7', '2024-03-01 00:00:00+00'::timestamptz)::text,
                ROW('refund', -100, 'refund:11', '2024-03-02 00:00:00+00'::timestamptz)::text,
                ROW('refund', -550, 'refund:12', '2024-03-02 00:00:00+00'::timestamptz)::text],
          'WooCommerce: the paid order and every refund, negative, each keyed by its id');
SELECT is((skeldir._map_woocommerce('{"x-wc-webhook-topic": "order.updated"}',
          '{"id": 7, "status": "completed", "currency": "EUR", "total": "50.00", "date_modified_gmt": "2024-03-09T00:00:00"}'
          ))[1].fact_key, 'order:7', 'WooCommerce: a completed order is revenue once, whenever resaved');
SELECT is((skeldir._map_woocommerce('{"x-wc-webhook-topic": "order.updated"}',
          '{"id": 7, "status": "on-hold", "currency": "EUR"}'))[1].supported, false,
          'WooCommerce: orders neither paid nor refunded are not revenue yet');
SELECT is((skeldir._map_woocommerce('{"x-wc-webhook-topic": "order.created"}',
          '{"id": 7, "status": "completed", "currency": "EUR", "total": "1.00", "date_modified_gmt": "2024-03-09T00:00:00",
            "meta_data": [{"key": "_wc_order_attribution_utm_source", "value": "(none)"},
                          {"key": "_wc_order_attribution_referrer", "value": "https://duckduckgo.com/"}]}'))[1].referrer,
          'https://duckduckgo.com/', 'WooCommerce: attribution from _wc_order_attribution_* meta');

-- PayPal.
SELECT is((SELECT ROW(e.kind, e.amount_minor, e.payment_ref, e.fact_key)::text FROM unnest(skeldir._map_paypal('{}',
          '{"id": "WH-2", "event_type": "PAYMENT.SALE.REFUNDED", "create_time": "2024-01-01T00:00:00Z",
            "resource": {"id": "R9", "sale_id": "S1", "amount": {"total": "2.50", "currency": "USD"}}}')) AS e),
          '(refund,-250,S1,refund:R9)', 'PayPal: sale refund negative, pointing at the sale, keyed by the refund id');
SELECT is((skeldir._map_paypal('{}', '{"id": "WH-3", "event_type": "PAYMENT.CAPTURE.COMPLETED",
          "create_time": "2024-01-01T00:00:00Z", "resource": {"id": "C1", "amount": {"value": 10.5, "currency_code": "USD"}}}'
          ))[1].amount_minor, 1050::bigint, 'PayPal: an exact JSON number is converted exactly too');

-- Standard.
SELECT throws_ok($$SELECT skeldir._map_standard('{}', '{"type": "order.created"}')$$, 'SK422',
                 'missing_field:header.webhook-id', 'Standard: webhook-id is the dedupe key');
SELECT is((skeldir._map_standard('{"webhook-id": "m"}', '{"type": "ping"}'))[1].supported, false,
          'Standard: other types are unsupported');

-- What is stored: the projection of the fields the mapping reads.
SELECT is(skeldir._project_woocommerce('{"meta_data": [{"key": "_wc_order_attribution_user_agent", "value": "Mozilla"},
                                                      {"key": "_wc_order_attribution_utm_source", "value": "google"},
                                                      {"key": "gift_message", "value": "to x@y.io"}],
                                        "billing": {"email": "x@y.io"}, "ref": "mail me at x@y.io", "id": 7}'),
          '{"id": 7, "meta_data": [{"key": "_wc_order_attribution_utm_source", "value": "google"}]}'::jsonb,
          'a projection keeps the known fields only: no billing, no user agent, no free text under other names');

SELECT * FROM finish();
ROLLBACK;
