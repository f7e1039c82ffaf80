-- Deploy skeldir:view_llm_read to pg
BEGIN;

-- Reads of the LLM boundary. Tenant views filter on the transaction's tenant GUC and are
-- security_barrier views (no user predicate runs before the tenant filter); they run as
-- their owner, and the tables below FORCE RLS, which the GUC satisfies. No prompt, no
-- prompt hash is exposed.

/**
 * The current tenant's LLM calls: the audit trail, one row per request_id. model is the
 * model admission chose, requested_model the one asked for (they differ when budget
 * pressure routed the call to a cheaper model).
 */
CREATE VIEW api.llm_calls WITH (security_barrier) AS
SELECT c.id AS call_id, c.request_id, c.user_id, c.task, c.status, c.blocked_reason, c.provider, c.model,
       c.requested_model, c.provider_attempted, c.input_tokens, c.output_tokens, c.cost_usd, c.latency_ms, c.cached_from,
       c.deliveries, c.result, c.error, c.requested_at, c.completed_at
  FROM skeldir.llm_api_calls AS c
 WHERE c.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.llm_calls IS 'LLM calls of the current tenant (audit).';

/** The current tenant's monthly LLM roll-up with its effective budget. */
CREATE VIEW api.llm_monthly_spend WITH (security_barrier) AS
SELECT m.month, m.calls, m.provider_calls, m.cached_calls, m.blocked_calls, m.failed_calls, m.routed_calls,
       m.input_tokens, m.output_tokens, m.cost_usd,
       coalesce(l.monthly_budget_usd, s.default_monthly_budget_usd) AS monthly_budget_usd,
       coalesce(l.monthly_budget_usd, s.default_monthly_budget_usd) * s.budget_pressure_share AS budget_pressure_usd
  FROM skeldir.llm_monthly_spend AS m
 CROSS JOIN skeldir.llm_settings AS s
  LEFT JOIN skeldir.llm_tenant_limits AS l ON l.tenant_id = m.tenant_id
 WHERE m.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.llm_monthly_spend IS
    'Monthly LLM calls, tokens and cost of the current tenant, with its budget and the spend where routing down starts.';

/** The current tenant's investigations. */
CREATE VIEW api.llm_investigations WITH (security_barrier) AS
SELECT i.id AS investigation_id, i.call_id, i.request_id, i.status, i.findings, i.created_at, i.completed_at
  FROM skeldir.llm_investigations AS i
 WHERE i.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.llm_investigations IS 'Investigations of the current tenant.';

/** The current tenant's budget optimization jobs. */
CREATE VIEW api.llm_budget_jobs WITH (security_barrier) AS
SELECT j.id AS job_id, j.call_id, j.request_id, j.status, j.result, j.created_at, j.completed_at
  FROM skeldir.llm_budget_jobs AS j
 WHERE j.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.llm_budget_jobs IS 'Budget optimization jobs of the current tenant.';

/**
 * The current tenant's spend against its hourly shutoff and monthly budget: one row when a
 * tenant is set. budget_pressure: this month's spend reached budget_pressure_usd (the
 * budget times llm_settings.budget_pressure_share), so admission routes models that have
 * a cheaper_model to it.
 */
CREATE VIEW api.llm_spend_state WITH (security_barrier) AS
SELECT h.spend AS hourly_spend_usd, h.lim AS hourly_shutoff_usd, coalesce(h.spend >= h.lim, false) AS hourly_shutoff_active,
       m.spend AS month_spend_usd, m.lim AS monthly_budget_usd, coalesce(m.spend >= m.lim, false) AS budget_exceeded,
       m.lim * s.budget_pressure_share AS budget_pressure_usd,
       coalesce(m.spend >= m.lim * s.budget_pressure_share, false) AS budget_pressure
  FROM skeldir.llm_settings AS s
  LEFT JOIN skeldir.llm_tenant_limits AS l ON l.tenant_id = skeldir.current_tenant_id()
 CROSS JOIN LATERAL (
       SELECT coalesce(pg_catalog.sum(c.cost_usd), 0) AS spend,
              coalesce(l.hourly_shutoff_usd, s.default_hourly_shutoff_usd) AS lim
         FROM skeldir.llm_api_calls AS c
        WHERE c.tenant_id = skeldir.current_tenant_id()
          AND c.completed_at > pg_catalog.now() - interval '1 hour') AS h
 CROSS JOIN LATERAL (
       SELECT coalesce(pg_catalog.sum(ms.cost_usd), 0) AS spend,
              coalesce(l.monthly_budget_usd, s.default_monthly_budget_usd) AS lim
         FROM skeldir.llm_monthly_spend AS ms
        WHERE ms.tenant_id = skeldir.current_tenant_id()
          AND ms.month = pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC')::date) AS m
 WHERE skeldir.current_tenant_id() IS NOT NULL;
COMMENT ON VIEW api.llm_spend_state IS
    'Current tenant: last-hour and this-month LLM spend against shutoff, budget and budget pressure.';

/** Deployment-wide: the kill switch and each provider's circuit breaker (not tenant data). */
CREATE VIEW api.llm_breakers AS
SELECT b.provider, b.state, b.consecutive_failures, s.breaker_failure_threshold AS failure_threshold,
       b.opened_at, b.opened_at + s.breaker_cooldown AS half_open_after, b.trial_started_at,
       s.kill_switch, b.updated_at
  FROM skeldir.llm_breakers AS b
 CROSS JOIN skeldir.llm_settings AS s;
COMMENT ON VIEW api.llm_breakers IS 'Kill switch and circuit breaker state per LLM provider.';

GRANT SELECT ON api.llm_calls, api.llm_monthly_spend, api.llm_investigations, api.llm_budget_jobs,
                api.llm_spend_state, api.llm_breakers TO app_rw, app_ro;

COMMIT;
