-- Deploy skeldir:table_llm_monthly_spend to pg
BEGIN;

/**
 * Monthly LLM roll-up per tenant (UTC calendar month), maintained in the same transaction
 * that records each outcome, so the budget check reads one row instead of summing the audit.
 * routed_calls: calls admission sent to a cheaper model than the one requested (budget pressure).
 */
CREATE TABLE skeldir.llm_monthly_spend (
    tenant_id      uuid NOT NULL REFERENCES skeldir.tenants (id),
    month          date NOT NULL CHECK (extract(day FROM month) = 1),
    calls          bigint NOT NULL DEFAULT 0,
    provider_calls bigint NOT NULL DEFAULT 0,
    cached_calls   bigint NOT NULL DEFAULT 0,
    blocked_calls  bigint NOT NULL DEFAULT 0,
    failed_calls   bigint NOT NULL DEFAULT 0,
    routed_calls   bigint NOT NULL DEFAULT 0,
    input_tokens   bigint NOT NULL DEFAULT 0,
    output_tokens  bigint NOT NULL DEFAULT 0,
    cost_usd       numeric(16, 8) NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, month)
);
COMMENT ON TABLE skeldir.llm_monthly_spend IS 'Per tenant and UTC month: LLM calls by outcome, tokens and cost.';

ALTER TABLE skeldir.llm_monthly_spend ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.llm_monthly_spend FORCE ROW LEVEL SECURITY;

CREATE POLICY llm_monthly_spend_belong_to_their_tenant ON skeldir.llm_monthly_spend
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
