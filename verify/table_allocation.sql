-- Verify skeldir:table_allocation on pg
SELECT tenant_id, event_id, kind, channel, model, amount_minor, currency, occurred_at, allocated_at
  FROM skeldir.allocations
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.allocations'::regclass AND relrowsecurity AND relforcerowsecurity;
