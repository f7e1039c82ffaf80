-- Revert skeldir:read_model_upkeep from pg
BEGIN;

DROP FUNCTION skeldir.read_models_rebuild(text);
DROP FUNCTION skeldir.read_model_upkeep(text, boolean);
DROP FUNCTION skeldir._read_model_recompute(text, uuid);
DROP TRIGGER read_model_deltas_apply ON skeldir.read_model_deltas;
DROP FUNCTION skeldir._read_model_apply();
DROP FUNCTION skeldir._read_model_fold(text, uuid);
DROP TRIGGER worker_failed_jobs_log_delete ON skeldir.worker_failed_jobs;
DROP TRIGGER worker_failed_jobs_log_insert ON skeldir.worker_failed_jobs;
DROP TRIGGER reconciliations_log_delete ON skeldir.reconciliations;
DROP TRIGGER reconciliations_log_update ON skeldir.reconciliations;
DROP TRIGGER reconciliations_log_insert ON skeldir.reconciliations;
DROP TRIGGER attribution_events_log_delete ON skeldir.attribution_events;
DROP TRIGGER attribution_events_log_update ON skeldir.attribution_events;
DROP TRIGGER allocations_log_delete ON skeldir.allocations;
DROP TRIGGER allocations_log_update ON skeldir.allocations;
DROP TRIGGER allocations_log_insert ON skeldir.allocations;
DROP FUNCTION skeldir._read_model_log_reconciliations();
DROP FUNCTION skeldir._read_model_log_events();
DROP FUNCTION skeldir._read_model_log_failed_jobs();
DROP FUNCTION skeldir._read_model_log_allocations();
DROP FUNCTION skeldir._read_model_log_processed(text, uuid[], bigint[], bigint[]);
DROP FUNCTION skeldir._read_model_enlist(uuid[]);
DROP TABLE skeldir.read_model_deltas;
DROP INDEX skeldir.worker_failed_jobs_allocate_event_idx;

COMMIT;
