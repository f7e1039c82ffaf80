-- Revert skeldir:stats_tenant_id from pg
BEGIN;

ALTER TABLE skeldir.attribution_events ALTER COLUMN tenant_id SET STATISTICS -1;
ALTER TABLE skeldir.allocations ALTER COLUMN tenant_id SET STATISTICS -1;
ALTER TABLE skeldir.reconciliations ALTER COLUMN tenant_id SET STATISTICS -1;

ANALYZE skeldir.attribution_events (tenant_id);
ANALYZE skeldir.allocations (tenant_id);
ANALYZE skeldir.reconciliations (tenant_id);

COMMIT;
