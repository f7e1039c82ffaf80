-- Verify skeldir:table_ingest_counter on pg
SELECT tenant_id, vendor, day, outcome, count FROM skeldir.ingest_counters WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.ingest_counters'::regclass AND relrowsecurity AND relforcerowsecurity;
