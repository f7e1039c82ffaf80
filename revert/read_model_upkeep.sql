-- Revert skeldir:read_model_upkeep from pg
BEGIN;

DROP FUNCTION skeldir.read_models_rebuild(text);
DROP FUNCTION skeldir.read_model_upkeep(text, boolean);
DROP FUNCTION skeldir._read_model_fold(text, uuid);
DROP FUNCTION skeldir._read_model_recompute(text, uuid, date[]);
DROP TRIGGER worker_failed_jobs_invalidate_insert ON skeldir.worker_failed_jobs;
DROP TRIGGER reconciliations_invalidate_delete ON skeldir.reconciliations;
DROP TRIGGER reconciliations_invalidate_update ON skeldir.reconciliations;
DROP TRIGGER reconciliations_invalidate_insert ON skeldir.reconciliations;
DROP TRIGGER attribution_events_invalidate_delete ON skeldir.attribution_events;
DROP TRIGGER attribution_events_invalidate_update ON skeldir.attribution_events;
DROP TRIGGER allocations_invalidate_delete ON skeldir.allocations;
DROP TRIGGER allocations_invalidate_update ON skeldir.allocations;
DROP TRIGGER allocations_invalidate_insert ON skeldir.allocations;
DROP FUNCTION skeldir._invalidate_failed_jobs();
DROP FUNCTION skeldir._invalidate_reconciliations();
DROP FUNCTION skeldir._invalidate_events();
DROP FUNCTION skeldir._invalidate_allocations();
DROP TABLE skeldir.read_model_deltas;
DROP TABLE skeldir.read_model_invalidations;
DROP INDEX skeldir.reconciliations_tenant_day_idx;
DROP INDEX skeldir.allocations_tenant_day_idx;
DROP INDEX skeldir.attribution_events_tenant_day_idx;

COMMIT;
