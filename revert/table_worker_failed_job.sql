-- Revert skeldir:table_worker_failed_job from pg
BEGIN;

DROP TABLE skeldir.worker_failed_jobs;

COMMIT;
