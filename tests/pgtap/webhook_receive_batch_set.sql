-- api.webhook_receive_batch stores set-based per tenant: answers and rows as single calls in batch order.
BEGIN;
SELECT plan(12);

-- shape: the set-based store and the failure answer are internal, owned, search_path pinned
SELECT has_function('skeldir', '_ingest_store_batch',
    ARRAY['integer[]', 'skeldir.webhook_event[]', 'text[]', 'uuid[]', 'jsonb[]', 'text[]', 'text[]', 'jsonb[]',
          'bytea[]', 'text[]', 'integer[]', 'text[]', 'text[]', 'text[]'],
    'skeldir._ingest_store_batch exists');
SELECT ok(NOT has_function_privilege('app_user',
              'skeldir._ingest_store_batch(integer[], skeldir.webhook_event[], text[], uuid[], jsonb[], text[], text[], jsonb[], bytea[], text[], integer[], text[], text[], text[])',
              'EXECUTE')
          AND NOT has_function_privilege('app_user', 'skeldir._webhook_prepare(text, text, jsonb, bytea, text)', 'EXECUTE'),
    'app_user may not call the halves of the ingest path, only api.webhook_receive(_batch)');

-- fixtures: two tenants, signed Stripe deliveries (now() is fixed in this transaction, so
-- a delivery built twice is the same bytes)
CREATE TEMP TABLE t ON COMMIT DROP AS
SELECT n, c.tenant_id, c.endpoint_tokens ->> 'stripe' AS token, c.secrets ->> 'stripe' AS secret
  FROM generate_series(1, 2) AS n, LATERAL api.tenant_create('Set batch ' || n) AS c;
CREATE FUNCTION pg_temp.doc(evt text, type text DEFAULT 'payment_intent.succeeded', obj text DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
    SELECT format('{"id":"%s","type":"%s","created":%s,"data":{"object":%s}}', evt, type, extract(epoch FROM now())::bigint,
                  coalesce(obj, format('{"id":"pi_%s","amount":2500,"currency":"usd","receipt_email":"%s@example.com","metadata":{"order_id":"1"}}',
                                       evt, evt)))
$$;
CREATE FUNCTION pg_temp.delivery(tenant integer, raw text, bad_signature boolean DEFAULT false)
RETURNS TABLE (headers jsonb, body bytea, token text) LANGUAGE sql AS $$
    SELECT jsonb_build_object('stripe-signature', 't=' || ts || ',v1=' || CASE WHEN bad_signature THEN repeat('0', 64)
               ELSE encode(extensions.hmac(convert_to(ts || '.', 'UTF8') || b, convert_to(t.secret, 'UTF8'), 'sha256'), 'hex') END),
           b, t.token
      FROM t, LATERAL (SELECT extract(epoch FROM now())::bigint::text AS ts, convert_to(raw, 'UTF8') AS b) AS x
     WHERE t.n = tenant
$$;
CREATE TEMP TABLE batch ON COMMIT DROP AS
SELECT i, d.* FROM (VALUES
    (1, 1, pg_temp.doc('evt_a'), false),                       -- new
    (2, 2, pg_temp.doc('evt_a'), false),                       -- the same document, another tenant: new
    (3, 1, pg_temp.doc('evt_old'), false),                     -- recorded before the batch: duplicate
    (4, 1, pg_temp.doc('evt_a'), false),                       -- redelivery of 1 in the same batch: duplicate
    (5, 1, pg_temp.doc('evt_a2', 'charge.succeeded',           -- another event for 1's payment: duplicate
        '{"id":"ch_a","payment_intent":"pi_evt_a","amount":2500,"currency":"usd"}'), false),
    (6, 2, '{"id": "evt_bad", "type": ', false),               -- not JSON: dead letter
    (7, 1, pg_temp.doc('evt_cus', 'customer.created', '{"id":"cus_1"}'), false),  -- no revenue fact: ignored
    (8, 2, pg_temp.doc('evt_b'), false),                       -- new
    (9, 2, pg_temp.doc('evt_r', 'charge.refunded',             -- a cumulative refund of 8's payment: stored alone
        '{"id":"ch_b","payment_intent":"pi_evt_b","amount":2500,"amount_refunded":500,"currency":"usd"}'), false),
    (10, 2, pg_temp.doc('evt_r', 'charge.refunded',            -- its redelivery: duplicate
        '{"id":"ch_b","payment_intent":"pi_evt_b","amount":2500,"amount_refunded":500,"currency":"usd"}'), false),
    (11, 1, pg_temp.doc('evt_sig'), true),                     -- bad signature: 401
    (12, 2, pg_temp.doc('evt_c'), false),                      -- new, after the refund
    (13, 1, pg_temp.doc('evt_d'), false))                      -- new
    AS v (i, tenant, raw, bad),
    LATERAL pg_temp.delivery(v.tenant, v.raw, v.bad) AS d;
GRANT SELECT ON batch, t TO app_user;

-- One fact recorded before the batch, for both runs.
SELECT is((SELECT outcome FROM batch, api.webhook_receive('stripe', '/webhooks/{vendor}/{endpoint_token}', headers, body, token)
            WHERE i = 3), 'accepted', 'evt_old is recorded before the batch');

-- What a run left behind, with ids replaced by what they identify (the runs draw different ids).
CREATE FUNCTION pg_temp.answers(tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE _out text;
BEGIN
    EXECUTE format($q$
        SELECT string_agg(concat_ws(' ', a.ord, a.http_status, a.outcome, a.error_sqlstate,
                   a.response::jsonb - 'event_id' - 'event_ids' - 'dead_event_id',
                   (SELECT t.n || ':' || e.fact_key FROM skeldir.attribution_events AS e JOIN t USING (tenant_id)
                     WHERE e.id = (a.response::jsonb ->> 'event_id')::bigint),
                   (SELECT string_agg(t.n || ':' || e.fact_key, ',' ORDER BY x.o)
                      FROM jsonb_array_elements_text(a.response::jsonb -> 'event_ids') WITH ORDINALITY AS x (id, o)
                      JOIN skeldir.attribution_events AS e ON e.id = x.id::bigint JOIN t USING (tenant_id)),
                   (SELECT d.reason FROM skeldir.dead_letters AS d WHERE d.id = (a.response::jsonb ->> 'dead_event_id')::bigint)),
               E'\n' ORDER BY a.ord) FROM %s AS a$q$, tbl) INTO _out;
    RETURN _out;
END;
$$;
CREATE FUNCTION pg_temp.stored() RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws(E'\n--\n',
        (SELECT string_agg(concat_ws(' ', t.n, e.vendor, e.topic, e.kind, e.vendor_event_id, e.fact_key, e.order_ref,
                    e.payment_ref, e.amount_minor, e.currency, e.occurred_at, e.customer_ref, e.payload, e.route,
                    e.replayed_from), E'\n' ORDER BY t.n, e.fact_key)
           FROM skeldir.attribution_events AS e JOIN t USING (tenant_id)),
        (SELECT string_agg(t.n || ':' || e.fact_key || ' ' || (q.message - 'event_id'), E'\n' ORDER BY t.n, e.fact_key)
           FROM pgmq.q_attribution AS q
           JOIN skeldir.attribution_events AS e ON e.id = (q.message ->> 'event_id')::bigint JOIN t USING (tenant_id)),
        (SELECT string_agg(concat_ws(' ', t.n, d.vendor, d.route, d.reason, d.detail, d.headers, d.payload,
                    encode(d.body_sha256, 'hex'), d.body_bytes), E'\n' ORDER BY t.n, d.reason, d.body_sha256)
           FROM skeldir.dead_letters AS d JOIN t USING (tenant_id)),
        (SELECT string_agg(concat_ws(' ', t.n, c.vendor, c.outcome, c.count), E'\n' ORDER BY t.n, c.vendor, c.outcome)
           FROM skeldir.ingest_counters AS c JOIN t USING (tenant_id)))
$$;

-- Run 1: single calls, one after the other in batch order, then undone.
CREATE TEMP TABLE single_answer (ord integer, http_status integer, outcome text, response text, error_sqlstate text);
SAVEPOINT singles;
CREATE FUNCTION pg_temp.run_singles() RETURNS void LANGUAGE plpgsql AS $$
DECLARE _d record; _a record;
BEGIN
    FOR _d IN SELECT * FROM batch ORDER BY i LOOP
        _a := api.webhook_receive('stripe', '/webhooks/{vendor}/{endpoint_token}', _d.headers, _d.body, _d.token);
        INSERT INTO single_answer VALUES (_d.i, _a.http_status, _a.outcome, _a.response, NULL);
    END LOOP;
END;
$$;
SELECT pg_temp.run_singles();
SELECT pg_temp.answers('single_answer') AS single_answers, pg_temp.stored() AS single_stored \gset
ROLLBACK TO SAVEPOINT singles;

-- Run 2: the same deliveries in one batch.
SET LOCAL ROLE app_user;
CREATE TEMP TABLE batch_answer ON COMMIT DROP AS
SELECT * FROM api.webhook_receive_batch(
    (SELECT array_agg('stripe'::text ORDER BY i) FROM batch),
    (SELECT array_agg('/webhooks/{vendor}/{endpoint_token}'::text ORDER BY i) FROM batch),
    (SELECT array_agg(headers ORDER BY i) FROM batch),
    (SELECT array_agg(body ORDER BY i) FROM batch),
    (SELECT array_agg(token ORDER BY i) FROM batch));
RESET ROLE;

SELECT results_eq('SELECT ord, http_status, outcome FROM batch_answer ORDER BY ord',
    $$VALUES (1, 200, 'accepted'), (2, 200, 'accepted'), (3, 200, 'duplicate'), (4, 200, 'duplicate'),
             (5, 200, 'duplicate'), (6, 200, 'dead_lettered'), (7, 200, 'ignored'), (8, 200, 'accepted'),
             (9, 200, 'accepted'), (10, 200, 'duplicate'), (11, 401, 'unauthorized'), (12, 200, 'accepted'),
             (13, 200, 'accepted')$$,
    'the batch answers each delivery: new, duplicate within the batch and against stored facts, dead letter, ignored, cumulative refund, 401');
SELECT is(pg_temp.answers('batch_answer'), :'single_answers',
    'every answer (status, outcome, response, the facts its event ids name, the dead letter''s reason) is the single call''s');
SELECT is(pg_temp.stored(), :'single_stored',
    'events, queue messages, dead letters and counters are those the single calls leave');
SELECT is((SELECT response::jsonb -> 'event_id' FROM batch_answer WHERE ord = 4),
          (SELECT response::jsonb -> 'event_id' FROM batch_answer WHERE ord = 1),
          'a duplicate within the batch names the event its first delivery stored');
SELECT is((SELECT response::jsonb -> 'event_id' FROM batch_answer WHERE ord = 5),
          (SELECT response::jsonb -> 'event_id' FROM batch_answer WHERE ord = 1),
          'another event for the same payment names that event too');
SELECT is((SELECT e.amount_minor FROM skeldir.attribution_events AS e
            WHERE e.id = (SELECT (response::jsonb ->> 'event_id')::bigint FROM batch_answer WHERE ord = 9)),
          -500::bigint, 'the cumulative refund is stored after the payment that precedes it in the batch');

-- failure modes: a tenant's set-based statement raises, and only the delivery that caused it is affected
CREATE FUNCTION pg_temp.boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.vendor_event_id = 'evt_boom' THEN
        RAISE EXCEPTION 'boom' USING ERRCODE = 'XX000';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER boom BEFORE INSERT ON skeldir.attribution_events FOR EACH ROW EXECUTE FUNCTION pg_temp.boom();
CREATE TEMP TABLE batch2 ON COMMIT DROP AS
SELECT i, d.* FROM (VALUES (1, 1, 'evt_f1'), (2, 1, 'evt_boom'), (3, 1, 'evt_f1'), (4, 1, 'evt_f2'), (5, 2, 'evt_f3'))
                   AS v (i, tenant, evt),
               LATERAL pg_temp.delivery(v.tenant, pg_temp.doc(v.evt)) AS d;
GRANT SELECT ON batch2 TO app_user;
SET LOCAL ROLE app_user;
CREATE TEMP TABLE answer2 ON COMMIT DROP AS
SELECT * FROM api.webhook_receive_batch(
    array_fill('stripe'::text, ARRAY[5]), array_fill('/webhooks/{vendor}/{endpoint_token}'::text, ARRAY[5]),
    (SELECT array_agg(headers ORDER BY i) FROM batch2), (SELECT array_agg(body ORDER BY i) FROM batch2),
    (SELECT array_agg(token ORDER BY i) FROM batch2));
RESET ROLE;
SELECT results_eq('SELECT ord, http_status, outcome, error_sqlstate FROM answer2 ORDER BY ord',
    $$VALUES (1, 200, 'accepted', NULL::text), (2, NULL, 'error', 'XX000'), (3, 200, 'duplicate', NULL),
             (4, 200, 'accepted', NULL), (5, 200, 'accepted', NULL)$$,
    'the tenant whose statement raised is stored one by one: only the delivery that raised fails');
SELECT is((SELECT string_agg(e.vendor_event_id, ',' ORDER BY e.vendor_event_id) FROM skeldir.attribution_events AS e
            WHERE e.vendor_event_id LIKE 'evt_f%' OR e.vendor_event_id = 'evt_boom'),
          'evt_f1,evt_f2,evt_f3', 'its neighbours are stored, of both tenants, the failed delivery not');
SELECT is((SELECT count(*)::integer FROM pgmq.q_attribution AS q
            JOIN skeldir.attribution_events AS e ON e.id = (q.message ->> 'event_id')::bigint
           WHERE e.vendor_event_id LIKE 'evt_f%'), 3, 'one queue message per stored fact, none twice after the fallback');

SELECT * FROM finish();
ROLLBACK;
