-- Revert skeldir:view_tenant_read from pg
BEGIN;

DROP VIEW api.daily_revenue;
DROP VIEW api.allocations;
DROP VIEW api.dead_letters;
DROP VIEW api.events;

COMMIT;
