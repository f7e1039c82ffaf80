-- mv_realtime_revenue kept by deltas (change read_model_upkeep, reworked after v1.0.0): the
-- worker's commits fill 5-minute buckets of processed events, the view applies the 24-hour
-- window when read, and nothing is refreshed. The edges: the bucket that holds
-- now() - 24 hours shows whole, an event older than the 25-hour horizon is never logged,
-- old buckets are pruned, unprocessed events do not count yet, deletes and updates move
-- processed events out, and after every step the view equals its full recomputation
-- (lib/read_model_oracle.sql).
BEGIN;
SELECT plan(16);

\ir lib/read_model_oracle.sql
\ir lib/read_model_helpers.psql

SELECT tenant_id AS t FROM api.tenant_create('Realtime Window') \gset
SELECT date_bin('5 minutes', now() - interval '24 hours', '2000-01-01 00:00:00+00') AS edge \gset

SELECT pg_temp.event(:'t', 'now', 'order', 100, now() - interval '1 minute', 'r1') AS e_now \gset
SELECT pg_temp.event(:'t', 'refund', 'refund', -30, now() - interval '2 hours', 'r1') AS e_refund \gset
SELECT pg_temp.event(:'t', 'edge', 'payment', 200, :'edge'::timestamptz, 'r2', 'p2') AS e_edge \gset
SELECT pg_temp.event(:'t', 'before-edge', 'payment', 400, :'edge'::timestamptz - interval '1 second', 'r3', 'p3') AS e_before \gset
SELECT pg_temp.event(:'t', 'old', 'order', 800, now() - interval '26 hours', 'r4') AS e_old \gset

SELECT is_empty('SELECT * FROM skeldir.realtime_revenue', 'an event stored and not processed yet counts nowhere');
SELECT is((SELECT count(*) FROM skeldir.read_model_deltas WHERE view_name = 'mv_realtime_revenue'), 0::bigint,
    'ingest writes no realtime delta');
SELECT pg_temp.drain('attribution');
SELECT is((SELECT sum(n) FROM skeldir.read_model_deltas WHERE view_name = 'mv_realtime_revenue'), 4::numeric,
    'once processed, one +1 realtime delta per event inside the 25-hour horizon, none for the older one');
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after the commit the realtime view equals its recomputation');
SELECT results_eq(
    format($$ SELECT bucket, order_minor, payment_minor, refund_minor FROM skeldir.mv_realtime_revenue
               WHERE tenant_id = %L ORDER BY bucket $$, :'t'),
    format($$ VALUES (%L::timestamptz, 0::bigint, 200::bigint, 0::bigint),
                     (date_bin('5 minutes', now() - interval '2 hours', '2000-01-01'), 0, 0, -30),
                     (date_bin('5 minutes', now() - interval '1 minute', '2000-01-01'), 100, 0, 0) $$, :'edge'),
    'the bucket holding now() - 24 hours shows whole, the one before it does not');
SELECT is((SELECT payment_minor FROM skeldir.realtime_revenue WHERE tenant_id = :'t' AND bucket = :'edge'::timestamptz - interval '5 minutes'),
    400::bigint, 'the bucket before the window is kept (inside the horizon) but not read');
SELECT is_empty($$ SELECT FROM skeldir.realtime_revenue
                    WHERE bucket < date_bin('5 minutes', now() - interval '25 hours', '2000-01-01') $$,
    'nothing past the horizon is stored');

-- Tenants read their own buckets through the API view.
SET LOCAL ROLE app_user;
SELECT api.tenant_set(:'t');
SELECT results_eq($$ SELECT sum(order_minor)::bigint, sum(payment_minor)::bigint, sum(refund_minor)::bigint FROM api.realtime_revenue $$,
    $$ VALUES (100::bigint, 200::bigint, -30::bigint) $$, 'the API view reads the window of the tenant');
RESET ROLE;

-- A bucket past the horizon (left by a tenant's earlier commits) is pruned by its next fold.
SET LOCAL app.current_tenant_id = :'t';
INSERT INTO skeldir.realtime_revenue VALUES (:'t', date_bin('5 minutes', now() - interval '30 hours', '2000-01-01'), 'USD', 1, 5, 0, 0, 0, 0);
RESET app.current_tenant_id;
SELECT pg_temp.event(:'t', 'later', 'order', 7, now() - interval '3 minutes', 'r5');
SELECT pg_temp.drain('attribution');
SELECT pg_temp.commit_point();
SELECT is_empty($$ SELECT FROM skeldir.realtime_revenue WHERE bucket < now() - interval '25 hours' $$,
    'a tenant''s fold prunes its buckets past the horizon');
SELECT is_empty('SELECT * FROM read_model_mismatches', 'and the view still equals its recomputation');

-- Deletes and updates of processed events move them out (and in).
DELETE FROM skeldir.allocations WHERE event_id IN (:e_edge, :e_old);
DELETE FROM skeldir.attribution_events WHERE id IN (:e_edge, :e_old);
UPDATE skeldir.attribution_events SET occurred_at = now() - interval '3 days' WHERE id = :e_now;
UPDATE skeldir.attribution_events SET amount_minor = -50 WHERE id = :e_refund;
SELECT pg_temp.commit_point();
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after deletes and updates the view equals its recomputation');
SELECT is_empty($$ SELECT FROM skeldir.realtime_revenue
                    WHERE order_count < 0 OR payment_count < 0 OR refund_count < 0 OR order_count + payment_count + refund_count = 0 $$,
    'no bucket is negative or empty (the old event was never logged, so its delete logs nothing)');

-- Nothing is ever marked dirty or refreshed; the rebuild recomputes the buckets.
SELECT is_empty($$ SELECT FROM skeldir.matview_state WHERE dirty $$, 'no view is dirty: nothing is refreshed');
SET LOCAL app.current_tenant_id = :'t';
UPDATE skeldir.realtime_revenue SET order_minor = order_minor + 1;
RESET app.current_tenant_id;
SELECT isnt_empty('SELECT * FROM read_model_mismatches', 'control: damage shows against the oracle');
SELECT lives_ok($$ SELECT count(*) FROM skeldir.read_models_rebuild() $$, 'the rebuild runs');
SELECT is_empty('SELECT * FROM read_model_mismatches', 'after the rebuild the view equals its recomputation');

SELECT * FROM finish();
ROLLBACK;
