-- Revenue facts (SPEC §5): a delivery is a set of facts, each stored once by business identity.
BEGIN;
SELECT plan(23);

-- shape
SELECT has_column('skeldir', 'attribution_events', 'fact_key', 'events carry their business identity');
SELECT col_not_null('skeldir', 'attribution_events', 'fact_key', 'every fact has one');
SELECT is((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'attribution_events_dedupe'),
          'UNIQUE (tenant_id, vendor, fact_key)', 'facts, not deliveries, are unique per tenant and vendor');
SELECT has_function('skeldir', '_optional_ident', ARRAY['jsonb', 'text'], 'optional identifier helper exists');

CREATE TEMP TABLE t ON COMMIT DROP AS SELECT tenant_id FROM api.tenant_create('Facts');
SELECT set_config('app.current_tenant_id', (SELECT tenant_id::text FROM t), true) IS NOT NULL AS scoped \gset
CREATE FUNCTION pg_temp.ingest(vendor text, headers jsonb, doc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT i.response::jsonb
      FROM t, skeldir._ingest_document(t.tenant_id, vendor, 'test', headers, doc, '\x00', 1) AS i
$$;
CREATE FUNCTION pg_temp.stripe_refunded(charge text, refunded integer, refunds jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', 'evt_' || md5(random()::text), 'type', 'charge.refunded', 'created', 1700000000,
        'data', jsonb_build_object('object', jsonb_build_object('id', charge, 'amount', 5000, 'currency', 'usd',
            'payment_intent', 'pi_' || charge, 'amount_refunded', refunded, 'status', 'succeeded')
            || CASE WHEN refunds IS NULL THEN '{}' ELSE jsonb_build_object('refunds', jsonb_build_object('data', refunds)) END))
$$;
CREATE FUNCTION pg_temp.total(kind text) RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(amount_minor), 0)::bigint FROM skeldir.attribution_events AS e WHERE e.kind = total.kind
$$;

-- Stripe: one payment under two event types
SELECT is(pg_temp.ingest('stripe', '{}', '{"id": "evt_pi", "type": "payment_intent.succeeded", "created": 1700000000,
          "data": {"object": {"id": "pi_1", "amount": 15000, "amount_received": 15000, "currency": "usd"}}}') ->> 'status',
          'accepted', 'Stripe: payment_intent.succeeded records the payment');
SELECT is(pg_temp.ingest('stripe', '{}', '{"id": "evt_ch", "type": "charge.succeeded", "created": 1700000000,
          "data": {"object": {"id": "ch_1", "payment_intent": "pi_1", "amount": 15000, "currency": "usd"}}}') ->> 'status',
          'duplicate', 'Stripe: charge.succeeded of the same PaymentIntent is the same payment');
SELECT is(pg_temp.total('payment'), 15000::bigint, 'Stripe: one payment in the ledger');

-- Stripe: cumulative refunds, without and with the refund list
SELECT is(pg_temp.ingest('stripe', '{}', pg_temp.stripe_refunded('ch_a', 3000)) ->> 'status', 'accepted',
          'Stripe: the later cumulative level first');
SELECT is(pg_temp.ingest('stripe', '{}', pg_temp.stripe_refunded('ch_a', 1000)) ->> 'status', 'duplicate',
          'Stripe: an earlier, lower level adds nothing');
SELECT is(pg_temp.total('refund'), -3000::bigint, 'Stripe: the ledger holds the maximum seen');
SELECT is(jsonb_array_length(pg_temp.ingest('stripe', '{}', pg_temp.stripe_refunded('ch_a', 4500, '[
          {"id": "re_1", "amount": 1000, "created": 1}, {"id": "re_3", "amount": 1500, "created": 3},
          {"id": "re_x", "amount": 900, "created": 4, "status": "failed"}, {"id": "re_2", "amount": 2000, "created": 2}]'))
          -> 'event_ids'), 1,
          'Stripe: with the refund list, only the refund beyond the recorded level is new');
SELECT is(pg_temp.total('refund'), -4500::bigint, 'Stripe: refunds add up to amount_refunded, failed ones excluded');
SELECT is((SELECT amount_minor FROM skeldir.attribution_events WHERE fact_key = 'refund:re_3'), -1500::bigint,
          'Stripe: the new refund, keyed by its re_ id, is the part beyond what was recorded');

-- WooCommerce: paid orders and every refund of a document
SELECT is(pg_temp.ingest('woocommerce', '{"x-wc-webhook-topic": "order.updated"}',
          '{"id": 9, "status": "on-hold", "currency": "USD", "total": "20.00", "date_modified_gmt": "2024-03-01T00:00:00"}') ->> 'status',
          'ignored', 'WooCommerce: an order neither paid nor refunded is ignored');
SELECT is(jsonb_array_length(pg_temp.ingest('woocommerce', '{"x-wc-webhook-topic": "order.updated"}',
          '{"id": 9, "status": "refunded", "currency": "USD", "total": "20.00", "date_paid_gmt": "2024-03-01T00:00:00",
            "date_modified_gmt": "2024-03-02T00:00:00", "refunds": [{"id": 92, "total": "-15.00"}, {"id": 91, "total": "-5.00"}]}')
          -> 'event_ids'), 3, 'WooCommerce: the payment and both refunds arrive in one delivery: three facts');

-- Shopify: two subscriptions, refunds listed on the order
SELECT is(pg_temp.ingest('shopify', '{"x-shopify-topic": "orders/paid", "x-shopify-webhook-id": "sub-a"}',
          '{"id": 77, "currency": "USD", "total_price": "80.00", "created_at": "2024-03-01T00:00:00Z"}') ->> 'status',
          'accepted', 'Shopify: orders/paid is accepted');
SELECT is((SELECT array_agg(fact_key ORDER BY id) FROM skeldir.attribution_events WHERE order_ref = '77'),
          '{order:77,payment:77}', 'Shopify: orders/paid carries the order and its paid transition');
SELECT is(pg_temp.ingest('shopify', '{"x-shopify-topic": "orders/paid", "x-shopify-webhook-id": "sub-b"}',
          '{"id": 77, "currency": "USD", "total_price": "80.00", "created_at": "2024-03-01T00:00:00Z"}') ->> 'status',
          'duplicate', 'Shopify: a second subscription''s webhook id is the same facts');
SELECT is(pg_temp.ingest('shopify', '{"x-shopify-topic": "orders/updated", "x-shopify-webhook-id": "sub-c"}',
          '{"id": 77, "currency": "USD", "total_price": "80.00", "created_at": "2024-03-01T00:00:00Z", "financial_status": "partially_refunded",
            "refunds": [{"id": 5, "created_at": "2024-03-02T00:00:00Z",
                         "transactions": [{"kind": "refund", "status": "success", "amount": "12.50", "currency": "USD", "parent_id": 1}]}]}') ->> 'status',
          'accepted', 'Shopify: a refund listed on an updated order is new');
SELECT is(pg_temp.ingest('shopify', '{"x-shopify-topic": "refunds/create", "x-shopify-webhook-id": "sub-d"}',
          '{"id": 5, "order_id": 77, "created_at": "2024-03-02T00:00:00Z",
            "transactions": [{"kind": "refund", "status": "success", "amount": "12.50", "currency": "USD", "parent_id": 1}]}') ->> 'status',
          'duplicate', 'Shopify: refunds/create of the same refund id is the same refund');

-- Hostile but authenticated: precise dead-letter reasons, nothing stored
SELECT is(pg_temp.ingest('stripe', '{}', jsonb_build_object('id', repeat('e', 300), 'type', 'payment_intent.succeeded',
          'created', 1, 'data', '{"object": {"id": "pi_long", "amount": 1, "currency": "usd"}}'::jsonb)) ->> 'reason',
          'field_too_long', 'an event id over 255 characters is field_too_long');
SELECT is(pg_temp.ingest('stripe', '{}', jsonb_build_object('id', 'evt_arr', 'type', 'charge.succeeded', 'created', 1,
          'data', jsonb_build_object('object', jsonb_build_object('id', 'ch_arr', 'amount', 1, 'currency', 'usd',
          'payment_intent', to_jsonb(array_fill(1, ARRAY[100000])))))) ->> 'reason',
          'bad_type:payment_intent', 'a huge array as a reference is bad_type, not an index error');
SELECT is_empty($$SELECT FROM skeldir.attribution_events WHERE vendor_event_id IN ('evt_arr') OR payment_ref = 'pi_long'$$,
                'nothing of a refused document is stored');

SELECT * FROM finish();
ROLLBACK;
