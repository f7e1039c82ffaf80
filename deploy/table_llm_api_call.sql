-- Deploy skeldir:table_llm_api_call to pg
BEGIN;

/**
 * The audit of the LLM boundary: exactly one row per (tenant, request_id), written when the
 * request is accepted (status pending) and completed once with its outcome:
 *   success | cached | blocked (blocked_reason) | error | timeout.
 * provider_attempted says whether a provider was actually called. The prompt is stored
 * only as a keyed hash (prompt_hash, HMAC-SHA256 with llm_settings.prompt_hash_key);
 * result is the provider's answer (used by the cache and returned to the caller).
 * cost_usd = tokens * model price, computed in SQL when the outcome is recorded.
 * requested_model is the model asked for; provider and model are where admission sent the
 * call: the same, or the requested model's cheaper_model under budget pressure.
 */
CREATE TABLE skeldir.llm_api_calls (
    tenant_id          uuid NOT NULL REFERENCES skeldir.tenants (id),
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    request_id         text NOT NULL CHECK (request_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
    user_id            text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
    task               text NOT NULL
                       CHECK (task IN ('route', 'explanation', 'investigation', 'budget_optimization')),
    prompt_hash        bytea NOT NULL CHECK (length(prompt_hash) = 32),
    prompt_chars       integer NOT NULL CHECK (prompt_chars >= 0),
    provider           text NOT NULL,
    model              text NOT NULL,
    requested_model    text NOT NULL,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'success', 'cached', 'blocked', 'error', 'timeout')),
    blocked_reason     text CHECK (blocked_reason IN
                           ('provider_kill_switch', 'breaker_open', 'hourly_shutoff', 'budget_exceeded')),
    provider_attempted boolean NOT NULL DEFAULT false,
    input_tokens       integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens      integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_usd           numeric(14, 8) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    latency_ms         double precision CHECK (latency_ms >= 0),
    cached_from        bigint,
    deliveries         integer NOT NULL DEFAULT 0,
    result             jsonb,
    error              text,
    requested_at       timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT llm_api_calls_request_once UNIQUE (tenant_id, request_id),
    CHECK ((status = 'blocked') = (blocked_reason IS NOT NULL)),
    CHECK ((status = 'cached') = (cached_from IS NOT NULL)),
    CHECK (NOT provider_attempted OR status IN ('success', 'error', 'timeout')),
    CHECK ((status = 'pending') = (completed_at IS NULL))
);
COMMENT ON TABLE skeldir.llm_api_calls IS
    'One audited row per (tenant, request_id): outcome, provider, model, tokens, cost, latency; prompt only as a keyed hash.';
-- Cache lookups: the newest success for a tenant, task and prompt hash.
CREATE INDEX llm_api_calls_cache_idx ON skeldir.llm_api_calls (tenant_id, task, prompt_hash, completed_at DESC)
    WHERE status = 'success';
-- Hourly shutoff: the tenant's spend over the last hour.
CREATE INDEX llm_api_calls_completed_idx ON skeldir.llm_api_calls (tenant_id, completed_at);

ALTER TABLE skeldir.llm_api_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.llm_api_calls FORCE ROW LEVEL SECURITY;

CREATE POLICY llm_api_calls_belong_to_their_tenant ON skeldir.llm_api_calls
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
