-- Deploy skeldir:table_llm_tenant_limit to pg
BEGIN;

/**
 * Per-tenant LLM spend limits in USD. NULL in a column means "use the deployment default"
 * of skeldir.llm_settings; no row means both defaults. The hourly shutoff compares the
 * tenant's spend over the last rolling hour, the budget its spend in the current UTC month.
 */
CREATE TABLE skeldir.llm_tenant_limits (
    tenant_id          uuid PRIMARY KEY REFERENCES skeldir.tenants (id),
    hourly_shutoff_usd numeric(14, 6) CHECK (hourly_shutoff_usd >= 0),
    monthly_budget_usd numeric(14, 6) CHECK (monthly_budget_usd >= 0),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skeldir.llm_tenant_limits IS 'Per-tenant hourly shutoff and monthly budget (USD); NULL: default.';

ALTER TABLE skeldir.llm_tenant_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.llm_tenant_limits FORCE ROW LEVEL SECURITY;

CREATE POLICY llm_tenant_limits_belong_to_their_tenant ON skeldir.llm_tenant_limits
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
