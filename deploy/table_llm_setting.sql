-- Deploy skeldir:table_llm_setting to pg
BEGIN;

/**
 * One row of LLM boundary settings, read by the admission function before every provider
 * call. Operators flip the kill switch with api.llm_kill_switch_set (or `skeldir llm
 * kill-switch on|off`); tests tune the rest directly as migration_owner. The prompt hash
 * key makes prompt hashes keyed (HMAC), so a short prompt cannot be recovered by hashing
 * guesses; it never leaves the database. redelivery_margin: how long past the call timeout
 * the message of a call whose worker died stays invisible before it is delivered again.
 * budget_pressure_share: once a tenant's month-to-date spend reaches this share of its
 * monthly budget, admission sends calls to the cheaper model configured for the requested
 * one (llm_model_prices.cheaper_model); 1 turns the routing off.
 * App roles cannot read this table.
 */
CREATE TABLE skeldir.llm_settings (
    singleton                  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    kill_switch                boolean NOT NULL DEFAULT false,
    breaker_failure_threshold  integer NOT NULL DEFAULT 5 CHECK (breaker_failure_threshold >= 1),
    breaker_cooldown           interval NOT NULL DEFAULT '30 seconds' CHECK (breaker_cooldown >= '0'),
    cache_ttl                  interval NOT NULL DEFAULT '1 hour' CHECK (cache_ttl >= '0'),
    call_timeout_ms            integer NOT NULL DEFAULT 20000 CHECK (call_timeout_ms BETWEEN 1 AND 600000),
    max_deliveries             integer NOT NULL DEFAULT 3 CHECK (max_deliveries >= 1),
    redelivery_margin          interval NOT NULL DEFAULT '30 seconds' CHECK (redelivery_margin >= '0'),
    default_model              text NOT NULL DEFAULT 'stub-small',
    default_hourly_shutoff_usd numeric(14, 6) CHECK (default_hourly_shutoff_usd >= 0),
    default_monthly_budget_usd numeric(14, 6) CHECK (default_monthly_budget_usd >= 0),
    budget_pressure_share      numeric(4, 3) NOT NULL DEFAULT 0.8
                               CHECK (budget_pressure_share > 0 AND budget_pressure_share <= 1),
    prompt_hash_key            bytea NOT NULL DEFAULT extensions.gen_random_bytes(32),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skeldir.llm_settings IS
    'LLM boundary settings: kill switch, breaker, cache TTL, timeout, default limits; one row.';
INSERT INTO skeldir.llm_settings (default_hourly_shutoff_usd, default_monthly_budget_usd) VALUES (5, 100);

-- Deny-by-default: not tenant data; only the owner's functions read it.
ALTER TABLE skeldir.llm_settings ENABLE ROW LEVEL SECURITY;

COMMIT;
