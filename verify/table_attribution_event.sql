-- Verify skeldir:table_attribution_event on pg
SELECT tenant_id, id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref,
       amount_minor, currency, occurred_at, received_at, utm_source, utm_medium,
       utm_campaign, referrer, landing_page, customer_ref, payload, route, replayed_from
  FROM skeldir.attribution_events
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.attribution_events'::regclass AND relrowsecurity AND relforcerowsecurity;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_constraint
 WHERE conrelid = 'skeldir.attribution_events'::regclass AND conname = 'attribution_events_dedupe'
   AND pg_catalog.pg_get_constraintdef(oid) = 'UNIQUE (tenant_id, vendor, fact_key)';
