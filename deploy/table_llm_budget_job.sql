-- Deploy skeldir:table_llm_budget_job to pg
BEGIN;

/**
 * Budget optimization jobs run through the LLM boundary:
 * one row per budget_optimization call, created with the request (status pending)
 * and completed with the call's outcome; result holds the provider's answer when there is one.
 */
CREATE TABLE skeldir.llm_budget_jobs (
    tenant_id    uuid NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    call_id      bigint NOT NULL,
    request_id   text NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'success', 'cached', 'blocked', 'error', 'timeout')),
    result       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, call_id),
    FOREIGN KEY (tenant_id, call_id) REFERENCES skeldir.llm_api_calls (tenant_id, id)
);
COMMENT ON TABLE skeldir.llm_budget_jobs IS 'Budget optimization jobs run through the LLM boundary; one per call.';

ALTER TABLE skeldir.llm_budget_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.llm_budget_jobs FORCE ROW LEVEL SECURITY;

CREATE POLICY llm_budget_jobs_belong_to_their_tenant ON skeldir.llm_budget_jobs
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
