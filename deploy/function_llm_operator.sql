-- Deploy skeldir:function_llm_operator to pg
BEGIN;

/**
 * The LLM kill switch, one SQL call for operators (`skeldir llm kill-switch on|off` calls
 * it): while on, admission blocks every call with provider_kill_switch before anything
 * else. Operator-only: runs as the caller (migration_owner); no runtime role may execute
 * it. Returns the new state. Raises 22023 for NULL.
 */
CREATE FUNCTION api.llm_kill_switch_set(enabled boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _state boolean;
BEGIN
    IF llm_kill_switch_set.enabled IS NULL THEN
        RAISE EXCEPTION 'kill switch state must be true or false' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'SELECT api.llm_kill_switch_set(true) turns every provider call off.';
    END IF;
    UPDATE skeldir.llm_settings AS s
       SET kill_switch = llm_kill_switch_set.enabled, updated_at = pg_catalog.now()
    RETURNING s.kill_switch INTO _state;
    RETURN _state;
END;
$$;
COMMENT ON FUNCTION api.llm_kill_switch_set(boolean) IS
    'Operator: turn the LLM kill switch on (true) or off (false); returns the new state. Raises 22023.';

/**
 * Sets a tenant's hourly shutoff and monthly budget in USD (NULL: the deployment default
 * of skeldir.llm_settings). Operator-only, runs as the caller. Raises 22023 for a negative
 * limit and SK404 for an unknown tenant.
 */
CREATE FUNCTION api.llm_tenant_limits_set(tenant_id uuid, hourly_shutoff_usd numeric, monthly_budget_usd numeric)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    IF llm_tenant_limits_set.hourly_shutoff_usd < 0 OR llm_tenant_limits_set.monthly_budget_usd < 0 THEN
        RAISE EXCEPTION 'limits must not be negative' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass NULL to use the deployment default.';
    END IF;
    IF NOT EXISTS (SELECT FROM skeldir.tenants AS t WHERE t.id = llm_tenant_limits_set.tenant_id) THEN
        RAISE EXCEPTION 'unknown tenant %', llm_tenant_limits_set.tenant_id USING ERRCODE = 'SK404';
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', llm_tenant_limits_set.tenant_id::text, true);
    INSERT INTO skeldir.llm_tenant_limits AS l (tenant_id, hourly_shutoff_usd, monthly_budget_usd)
    VALUES (llm_tenant_limits_set.tenant_id, llm_tenant_limits_set.hourly_shutoff_usd,
            llm_tenant_limits_set.monthly_budget_usd)
    ON CONFLICT ON CONSTRAINT llm_tenant_limits_pkey DO UPDATE
       SET hourly_shutoff_usd = excluded.hourly_shutoff_usd, monthly_budget_usd = excluded.monthly_budget_usd,
           updated_at = pg_catalog.now();
END;
$$;
COMMENT ON FUNCTION api.llm_tenant_limits_set(uuid, numeric, numeric) IS
    'Operator: a tenant''s LLM hourly shutoff and monthly budget in USD (NULL: default). Raises 22023, SK404.';

/** Closes a provider's circuit breaker by hand. Operator-only. Raises SK404 for an unknown provider. */
CREATE FUNCTION api.llm_breaker_reset(provider text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    UPDATE skeldir.llm_breakers AS b
       SET state = 'closed', consecutive_failures = 0, opened_at = NULL, trial_started_at = NULL,
           updated_at = pg_catalog.now()
     WHERE b.provider = llm_breaker_reset.provider;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown provider %', llm_breaker_reset.provider USING ERRCODE = 'SK404';
    END IF;
END;
$$;
COMMENT ON FUNCTION api.llm_breaker_reset(text) IS 'Operator: close a provider''s circuit breaker. Raises SK404.';

COMMIT;
