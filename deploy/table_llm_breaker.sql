-- Deploy skeldir:table_llm_breaker to pg
BEGIN;

/**
 * The circuit breaker of each provider (global, not per tenant: a provider outage hits
 * everyone). closed: calls pass; open: calls are blocked until opened_at + cool-down;
 * half_open: exactly one trial call is in flight (trial_started_at), its success closes the
 * breaker and its failure opens it again. Written only by the admission and record
 * functions, which lock the row, so transitions are serialized per provider.
 */
CREATE TABLE skeldir.llm_breakers (
    provider             text PRIMARY KEY,
    state                text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    opened_at            timestamptz,
    trial_started_at     timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'closed') = (opened_at IS NULL))
);
COMMENT ON TABLE skeldir.llm_breakers IS 'Circuit breaker state per LLM provider.';
INSERT INTO skeldir.llm_breakers (provider) VALUES ('stub');

ALTER TABLE skeldir.llm_breakers ENABLE ROW LEVEL SECURITY;

COMMIT;
