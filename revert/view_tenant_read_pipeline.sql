-- Revert skeldir:view_tenant_read_pipeline from pg
BEGIN;

DROP VIEW api.failed_jobs;
DROP VIEW api.reconciliations;
DROP VIEW api.reconciliation_status;
DROP VIEW api.allocation_summary;
DROP VIEW api.channel_performance;
DROP VIEW api.realtime_revenue;

COMMIT;
