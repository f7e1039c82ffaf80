-- Verify skeldir:table_reconciliation on pg
SELECT tenant_id, order_ref, status, order_event_id, order_minor, order_currency, payment_count,
       payment_minor, payment_currency, first_seen_at, evaluated_at
  FROM skeldir.reconciliations
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.reconciliations'::regclass AND relrowsecurity AND relforcerowsecurity;
