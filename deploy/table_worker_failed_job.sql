-- Deploy skeldir:table_worker_failed_job to pg
BEGIN;

/**
 * Tasks that failed on every attempt (first try plus task_max_retries retries). The
 * message leaves its queue in the same transaction that writes this row. Tasks without
 * a tenant (maintenance) are filed under the nil UUID, visible to no tenant.
 */
CREATE TABLE skeldir.worker_failed_jobs (
    tenant_id     uuid NOT NULL,
    task_id       bigint NOT NULL,
    task_name     text NOT NULL,
    queue         text NOT NULL,
    retry_count   integer NOT NULL,
    status        text NOT NULL DEFAULT 'failed' CHECK (status IN ('failed', 'requeued', 'discarded')),
    error_message text NOT NULL,
    payload       jsonb NOT NULL,
    failed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, queue, task_id)
);
COMMENT ON TABLE skeldir.worker_failed_jobs IS 'Tasks that exhausted their retries; moved here atomically from pgmq.';

ALTER TABLE skeldir.worker_failed_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.worker_failed_jobs FORCE ROW LEVEL SECURITY;

CREATE POLICY worker_failed_jobs_belong_to_their_tenant ON skeldir.worker_failed_jobs
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
