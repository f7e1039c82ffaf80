-- api.webhook_receive_batch: group commit with one outcome per delivery, failures isolated.
BEGIN;
SELECT plan(20);

-- shape and privileges
SELECT has_function('api', 'webhook_receive_batch', ARRAY['text[]', 'text[]', 'jsonb[]', 'bytea[]', 'text[]', 'interval'],
    'api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval) exists');
SELECT ok(has_function_privilege('app_user', 'api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval)', 'EXECUTE'),
    'app_user may call the batch function');
SELECT ok(NOT has_function_privilege('public', 'api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval)', 'EXECUTE'),
    'PUBLIC may not');
SELECT is((SELECT ROW(prosecdef, proconfig)::text FROM pg_proc
            WHERE oid = 'api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval)'::regprocedure),
    ROW(true, ARRAY['search_path=""'])::text,
    'the batch function runs as its owner with a pinned search_path (it calls the internal ingest path)');

-- fixtures: two tenants, signed Stripe deliveries
CREATE TEMP TABLE t ON COMMIT DROP AS
SELECT n, c.tenant_id, c.endpoint_tokens ->> 'stripe' AS token, c.secrets ->> 'stripe' AS secret
  FROM generate_series(1, 2) AS n, LATERAL api.tenant_create('Batch ' || n) AS c;
CREATE FUNCTION pg_temp.delivery(tenant integer, evt text, amount integer DEFAULT 2500, raw text DEFAULT NULL,
                                 bad_signature boolean DEFAULT false)
RETURNS TABLE (headers jsonb, body bytea, token text) LANGUAGE sql AS $$
    SELECT jsonb_build_object('stripe-signature', 't=' || ts || ',v1=' || CASE WHEN bad_signature THEN repeat('0', 64)
               ELSE encode(extensions.hmac(convert_to(ts || '.', 'UTF8') || b, convert_to(t.secret, 'UTF8'), 'sha256'), 'hex') END),
           b, t.token
      FROM t, LATERAL (SELECT extract(epoch FROM now())::bigint::text AS ts,
                       convert_to(coalesce(raw, format(
                           '{"id":"%s","type":"payment_intent.succeeded","created":%s,"data":{"object":{"id":"pi_%s","amount":%s,"currency":"usd","metadata":{"order_id":"1"}}}}',
                           evt, extract(epoch FROM now())::bigint, evt, amount)), 'UTF8') AS b) AS x
     WHERE t.n = tenant
$$;
CREATE TEMP TABLE batch ON COMMIT DROP AS
SELECT i, d.* FROM (VALUES (1, 1, 'evt_b1', NULL, false), (2, 1, 'evt_b1', NULL, false), (3, 2, 'evt_b1', NULL, false),
                           (4, 1, 'evt_x', '{"id": "evt_x", "type": ', false), (5, 2, 'evt_b2', NULL, true),
                           (6, 2, 'evt_boom', NULL, false), (7, 2, 'evt_b3', NULL, false),
                           (8, 1, 'evt_range', NULL, false))
                   AS v (i, tenant, evt, raw, bad),
               LATERAL pg_temp.delivery(v.tenant, v.evt, raw => v.raw, bad_signature => v.bad) AS d;
-- An unexpected failure inside one delivery (stands in for a bug or a lock timeout).
CREATE FUNCTION pg_temp.boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.vendor_event_id = 'evt_boom' THEN
        RAISE EXCEPTION 'boom' USING ERRCODE = 'XX000';
    END IF;
    IF NEW.vendor_event_id = 'evt_range' THEN  -- a data error nothing foresaw: the document's fault
        RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER boom BEFORE INSERT ON skeldir.attribution_events FOR EACH ROW EXECUTE FUNCTION pg_temp.boom();
GRANT SELECT ON batch, t TO app_user;

SELECT set_config('app.current_tenant_id', (SELECT tenant_id::text FROM t WHERE n = 2), true);
SET LOCAL ROLE app_user;
CREATE TEMP TABLE answer ON COMMIT DROP AS
SELECT * FROM api.webhook_receive_batch(
    (SELECT array_agg('stripe'::text ORDER BY i) FROM batch),
    (SELECT array_agg('/webhooks/{vendor}/{endpoint_token}'::text ORDER BY i) FROM batch),
    (SELECT array_agg(headers ORDER BY i) FROM batch),
    (SELECT array_agg(body ORDER BY i) FROM batch),
    (SELECT array_agg(token ORDER BY i) FROM batch));

SELECT results_eq('SELECT ord, http_status, outcome, error_sqlstate FROM answer ORDER BY ord',
    $$VALUES (1, 200, 'accepted', NULL::text), (2, 200, 'duplicate', NULL), (3, 200, 'accepted', NULL),
             (4, 200, 'dead_lettered', NULL), (5, 401, 'unauthorized', NULL), (6, NULL, 'error', 'XX000'),
             (7, 200, 'accepted', NULL), (8, 200, 'dead_lettered', NULL)$$,
    'one outcome per delivery, in order: same event for a second tenant is new, a duplicate within the batch is found');
SELECT is((SELECT (response::jsonb ->> 'event_id') FROM answer WHERE ord = 2),
          (SELECT (response::jsonb ->> 'event_id') FROM answer WHERE ord = 1),
          'the duplicate answer carries the event id stored earlier in the same batch');
SELECT is((SELECT response FROM answer WHERE ord = 5), '{"status": "unauthorized"}',
          'a bad signature gets the same answer as through the single call');
SELECT is(current_setting('app.current_tenant_id', true), (SELECT tenant_id::text FROM t WHERE n = 2),
          'the batch leaves the caller''s tenant GUC as it was');
SELECT is((SELECT response::jsonb ->> 'reason' FROM answer WHERE ord = 8), 'bad_value',
          'a data error (class 22) on the ingest path is dead-lettered as bad_value, not an error');

RESET ROLE;
SELECT is((SELECT count(*)::integer FROM skeldir.attribution_events), 3,
          'three events stored: the failed delivery alone was rolled back');
SELECT is((SELECT count(*)::integer FROM skeldir.attribution_events WHERE vendor_event_id = 'evt_boom'), 0,
          'nothing of the failed delivery is stored');
SELECT is((SELECT count(*)::integer FROM pgmq.q_attribution), 3, 'one attribution task per stored event, none for the failure');
SELECT is((SELECT count(*)::integer FROM skeldir.dead_letters), 2, 'the malformed delivery and the refused one are dead-lettered');
SELECT is((SELECT ROW(body_bytes > 0, payload IS NULL, detail)::text FROM skeldir.dead_letters WHERE reason = 'bad_value'),
          ROW(true, true, '22003: value out of range')::text,
          'the refused delivery keeps its hash and length and the SQLSTATE, not the document');
SELECT is((SELECT array_agg(DISTINCT e.tenant_id ORDER BY e.tenant_id) FROM skeldir.attribution_events AS e
            WHERE e.vendor_event_id = 'evt_b1'),
          (SELECT array_agg(tenant_id ORDER BY tenant_id) FROM t),
          'each delivery was stored under its own tenant');
SELECT is((SELECT e.tenant_id FROM skeldir.attribution_events AS e WHERE e.vendor_event_id = 'evt_b3'),
          (SELECT tenant_id FROM t WHERE n = 2),
          'the delivery after a failure is stored under its own tenant');

-- The queue's insert-notify throttle row is claimed once per transaction, not per task,
-- even with throttling off (a batch of deliveries enqueues one task each).
UPDATE pgmq.notify_insert_throttle SET throttle_interval_ms = 0, last_notified_at = 'epoch'
 WHERE queue_name = 'attribution';
-- This file is one transaction: forget the check the first batch made, as a new transaction would.
SELECT set_config('skeldir.notify_checked_attribution', '', true) IS NOT NULL AS reset \gset
SELECT n_tup_upd AS throttle_updates FROM pg_stat_xact_user_tables
 WHERE relid = 'pgmq.notify_insert_throttle'::regclass \gset before_
CREATE TEMP TABLE batch2 ON COMMIT DROP AS
SELECT i, d.* FROM generate_series(1, 3) AS i, LATERAL pg_temp.delivery(1, 'evt_n' || i) AS d;
SELECT is((SELECT count(*)::integer FROM api.webhook_receive_batch(
              array_fill('stripe'::text, ARRAY[3]), array_fill('/webhooks/{vendor}/{endpoint_token}'::text, ARRAY[3]),
              (SELECT array_agg(headers ORDER BY i) FROM batch2), (SELECT array_agg(body ORDER BY i) FROM batch2),
              (SELECT array_agg(token ORDER BY i) FROM batch2))
            WHERE outcome = 'accepted')
          + 100 * ((SELECT n_tup_upd FROM pg_stat_xact_user_tables
                     WHERE relid = 'pgmq.notify_insert_throttle'::regclass) - :before_throttle_updates)::integer,
          103, 'three tasks enqueued in one transaction claim the notify throttle row once');

-- failure modes
SET LOCAL ROLE app_user;
SELECT throws_ok($$SELECT * FROM api.webhook_receive_batch('{stripe}', '{r}', '{}'::jsonb[], '{}'::bytea[], '{NULL}')$$,
    '22023', NULL, 'arrays of different lengths are refused');
SELECT throws_ok($$SELECT * FROM api.webhook_receive_batch(array_fill('stripe'::text, ARRAY[1001]),
    array_fill('r'::text, ARRAY[1001]), array_fill('{}'::jsonb, ARRAY[1001]), array_fill('\x'::bytea, ARRAY[1001]),
    array_fill(NULL::text, ARRAY[1001]))$$, '54000', NULL, 'more than 1000 deliveries are refused');
SELECT is((SELECT count(*)::integer FROM api.webhook_receive_batch('{}', '{}', '{}', '{}', '{}')), 0,
    'an empty batch answers nothing');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
