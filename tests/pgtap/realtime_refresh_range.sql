-- mv_realtime_revenue's refresh reads only the block ranges that can hold the last 24 hours
-- (index_attribution_event_occurred), not the whole events table: measured in buffers.
BEGIN;
SELECT plan(3);

SELECT has_index('skeldir', 'attribution_events', 'attribution_events_occurred_brin', 'events have a BRIN index on occurred_at');

-- This suite runs as a superuser, who bypasses RLS. 100,000 events of the last 60 days in
-- arrival order, then 300 of the last hour.
SELECT tenant_id AS t FROM api.tenant_create('Realtime Range') \gset
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, amount_minor, currency, occurred_at, payload, route)
SELECT :'t', 'stripe', 'payment_intent.succeeded', 'payment', 'old_' || i, 'old_' || i, 100, 'USD',
       now() - interval '60 days' + i * interval '50 seconds', '{}', 't'
  FROM generate_series(1, 100000) AS i;
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, amount_minor, currency, occurred_at, payload, route)
SELECT :'t', 'stripe', 'payment_intent.succeeded', 'payment', 'new_' || i, 'new_' || i, 100, 'USD',
       now() - i * interval '10 seconds', '{}', 't'
  FROM generate_series(1, 300) AS i;
-- What autovacuum does for full block ranges (autosummarize), here at once.
SELECT brin_summarize_new_values('skeldir.attribution_events_occurred_brin');
ANALYZE skeldir.attribution_events;

\ir lib/buffers.psql

SELECT cmp_ok(pg_temp.buffers((SELECT definition FROM pg_matviews WHERE schemaname = 'skeldir' AND matviewname = 'mv_realtime_revenue')),
    '<', (SELECT relpages / 4 FROM pg_class WHERE oid = 'skeldir.attribution_events'::regclass)::bigint,
    'the realtime view''s query reads a small part of the events table, not all of it');

REFRESH MATERIALIZED VIEW CONCURRENTLY skeldir.mv_realtime_revenue;
SELECT is((SELECT sum(payment_count) FROM skeldir.mv_realtime_revenue WHERE tenant_id = :'t'), 300::numeric,
    'and the refreshed view counts exactly the last day''s 300 payments');

SELECT * FROM finish();
ROLLBACK;
