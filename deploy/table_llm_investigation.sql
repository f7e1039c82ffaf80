-- Deploy skeldir:table_llm_investigation to pg
BEGIN;

/**
 * Investigations requested through the LLM boundary:
 * one row per investigation call, created with the request (status pending)
 * and completed with the call's outcome; findings holds the provider's answer when there is one.
 */
CREATE TABLE skeldir.llm_investigations (
    tenant_id    uuid NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    call_id      bigint NOT NULL,
    request_id   text NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'success', 'cached', 'blocked', 'error', 'timeout')),
    findings     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, call_id),
    FOREIGN KEY (tenant_id, call_id) REFERENCES skeldir.llm_api_calls (tenant_id, id)
);
COMMENT ON TABLE skeldir.llm_investigations IS 'Investigations requested through the LLM boundary; one per call.';

ALTER TABLE skeldir.llm_investigations ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.llm_investigations FORCE ROW LEVEL SECURITY;

CREATE POLICY llm_investigations_belong_to_their_tenant ON skeldir.llm_investigations
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
