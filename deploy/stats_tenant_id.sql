-- Deploy skeldir:stats_tenant_id to pg
BEGIN;

/*
 * The worker looks events, allocations and reconciliations up by (tenant_id, key), with
 * plans made per call from the column statistics. With the default statistics target every
 * tenant of a small deployment is in tenant_id's most-common-values list, so a tenant that
 * ANALYZE has not seen yet (a new one, or one that grew since) is estimated at one row, and
 * the planner then prefers scanning that tenant's whole index range and filtering: on every
 * batch, at a cost that grows with the tenant until autovacuum analyzes the table again
 * (after 10% of it changed). Target 1 keeps one common value and n_distinct, so a tenant
 * the statistics do not know is planned as an average tenant. Reads under RLS compare
 * tenant_id with a function call and never used the list. pgTAP: plan_unknown_tenant.
 */
ALTER TABLE skeldir.attribution_events ALTER COLUMN tenant_id SET STATISTICS 1;
ALTER TABLE skeldir.allocations ALTER COLUMN tenant_id SET STATISTICS 1;
ALTER TABLE skeldir.reconciliations ALTER COLUMN tenant_id SET STATISTICS 1;

-- Replace the statistics gathered at the old target now (a sample of 300 rows each).
ANALYZE skeldir.attribution_events (tenant_id);
ANALYZE skeldir.allocations (tenant_id);
ANALYZE skeldir.reconciliations (tenant_id);

COMMIT;
