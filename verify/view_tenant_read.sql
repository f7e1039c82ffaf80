-- Verify skeldir:view_tenant_read on pg
SELECT event_id FROM api.events WHERE false;
SELECT dead_event_id FROM api.dead_letters WHERE false;
SELECT event_id FROM api.allocations WHERE false;
SELECT day FROM api.daily_revenue WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid IN ('api.events'::regclass, 'api.dead_letters'::regclass, 'api.allocations'::regclass, 'api.daily_revenue'::regclass)
   AND 'security_barrier=true' = ANY (reloptions)
HAVING pg_catalog.count(*) = 4;
