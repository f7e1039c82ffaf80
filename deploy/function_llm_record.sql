-- Deploy skeldir:function_llm_record to pg
BEGIN;

/**
 * The LLM consumer's second call, after the provider answered, failed or timed out: in
 * one transaction it completes the call (success with the provider's JSON result, error,
 * or timeout; tokens priced in SQL), moves the provider's circuit breaker (success closes
 * it; a failure counts, and opens it at the threshold or when it was the half-open trial)
 * and archives the message with its inputs stripped. Idempotent: when the call is already
 * complete (a redelivered message recorded twice) it only archives and returns the first
 * outcome. Runs as its owner: app_user may not touch pgmq or the audit tables.
 * Raises 22023 for a bad outcome or result, SK404 for an unknown call.
 */
CREATE FUNCTION api.llm_record(
    msg_id bigint, tenant_id uuid, call_id bigint, outcome text, input_tokens integer,
    output_tokens integer, latency_ms double precision, result jsonb, error text,
    OUT status text, OUT cost_usd numeric)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _c skeldir.llm_api_calls;
    _s skeldir.llm_settings;
    _before text := pg_catalog.current_setting('app.current_tenant_id', true);
BEGIN
    IF llm_record.outcome IS NULL OR llm_record.outcome NOT IN ('success', 'error', 'timeout') THEN
        RAISE EXCEPTION 'unknown outcome %', coalesce(llm_record.outcome, '(none)')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Outcomes: success, error, timeout.';
    END IF;
    IF llm_record.outcome = 'success' AND pg_catalog.jsonb_typeof(llm_record.result) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'a success needs a JSON object result' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(llm_record.input_tokens, 0) < 0 OR coalesce(llm_record.output_tokens, 0) < 0
       OR coalesce(llm_record.latency_ms, 0) < 0 THEN
        RAISE EXCEPTION 'tokens and latency must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    PERFORM pg_catalog.set_config('app.current_tenant_id', llm_record.tenant_id::text, true);
    SELECT c.* INTO _c
      FROM skeldir.llm_api_calls AS c
     WHERE c.tenant_id = llm_record.tenant_id AND c.id = llm_record.call_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no LLM call %', llm_record.call_id USING ERRCODE = 'SK404';
    END IF;

    IF _c.status = 'pending' THEN
        _c := skeldir._llm_finish(_c.tenant_id, _c.id, llm_record.outcome,
            provider_attempted => true,
            input_tokens => llm_record.input_tokens, output_tokens => llm_record.output_tokens,
            latency_ms => llm_record.latency_ms,
            result => CASE WHEN llm_record.outcome = 'success' THEN llm_record.result END,
            error => CASE WHEN llm_record.outcome <> 'success' THEN llm_record.error END);
        SELECT * INTO STRICT _s FROM skeldir.llm_settings;
        IF llm_record.outcome = 'success' THEN
            UPDATE skeldir.llm_breakers AS b
               SET state = 'closed', consecutive_failures = 0, opened_at = NULL, trial_started_at = NULL,
                   updated_at = pg_catalog.now()
             WHERE b.provider = _c.provider;
        ELSE
            UPDATE skeldir.llm_breakers AS b
               SET consecutive_failures = b.consecutive_failures + 1,
                   state = CASE WHEN b.state = 'half_open' OR b.consecutive_failures + 1 >= _s.breaker_failure_threshold
                                THEN 'open' ELSE b.state END,
                   opened_at = CASE WHEN b.state = 'half_open' OR b.consecutive_failures + 1 >= _s.breaker_failure_threshold
                                    THEN pg_catalog.now() ELSE b.opened_at END,
                   trial_started_at = NULL,
                   updated_at = pg_catalog.now()
             WHERE b.provider = _c.provider;
        END IF;
    END IF;

    IF llm_record.msg_id IS NOT NULL THEN
        PERFORM skeldir._llm_message_done(llm_record.msg_id);
    END IF;
    status := _c.status;
    cost_usd := _c.cost_usd;
    PERFORM pg_catalog.set_config('app.current_tenant_id', coalesce(_before, ''), true);
END;
$$;
COMMENT ON FUNCTION api.llm_record(bigint, uuid, bigint, text, integer, integer, double precision, jsonb, text) IS
    'Record a provider outcome (success|error|timeout), move the breaker, archive the message. Raises 22023, SK404.';
REVOKE ALL ON FUNCTION api.llm_record(bigint, uuid, bigint, text, integer, integer, double precision, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.llm_record(bigint, uuid, bigint, text, integer, integer, double precision, jsonb, text) TO app_rw;

COMMIT;
