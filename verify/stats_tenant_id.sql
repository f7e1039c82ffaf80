-- Verify skeldir:stats_tenant_id on pg
-- Fails (division by zero) unless all three tenant_id columns have statistics target 1.
SELECT 1 / (pg_catalog.count(*) = 3)::integer
  FROM pg_catalog.pg_attribute
 WHERE attrelid IN ('skeldir.attribution_events'::regclass, 'skeldir.allocations'::regclass,
                    'skeldir.reconciliations'::regclass)
   AND attname = 'tenant_id' AND attstattarget = 1;
