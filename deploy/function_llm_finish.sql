-- Deploy skeldir:function_llm_finish to pg
BEGIN;

/**
 * Completes a pending LLM call with its outcome, exactly once: prices it from the model
 * price table (tokens * USD per million tokens of the model admission chose, not the one
 * requested), rolls it into llm_monthly_spend (a routed call counts in routed_calls) and
 * completes its investigation or budget job row, all in the caller's transaction.
 * Internal: called by the admission batch (blocked, cached, given up) and by api.llm_record
 * (provider outcomes), with the tenant GUC already set. Raises 55000 when the call is not
 * pending, so a second completion can never overwrite the first.
 */
CREATE FUNCTION skeldir._llm_finish(
    tenant_id uuid, call_id bigint, status text, blocked_reason text DEFAULT NULL,
    provider_attempted boolean DEFAULT false, input_tokens integer DEFAULT 0, output_tokens integer DEFAULT 0,
    latency_ms double precision DEFAULT NULL, result jsonb DEFAULT NULL, error text DEFAULT NULL,
    cached_from bigint DEFAULT NULL)
RETURNS skeldir.llm_api_calls
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _c skeldir.llm_api_calls;
BEGIN
    UPDATE skeldir.llm_api_calls AS c
       SET status = _llm_finish.status,
           blocked_reason = _llm_finish.blocked_reason,
           provider_attempted = _llm_finish.provider_attempted,
           input_tokens = coalesce(_llm_finish.input_tokens, 0),
           output_tokens = coalesce(_llm_finish.output_tokens, 0),
           cost_usd = coalesce((
               SELECT (coalesce(_llm_finish.input_tokens, 0) * p.input_usd_per_mtok
                     + coalesce(_llm_finish.output_tokens, 0) * p.output_usd_per_mtok) / 1000000
                 FROM skeldir.llm_model_prices AS p
                WHERE p.model = c.model), 0),
           latency_ms = _llm_finish.latency_ms,
           result = _llm_finish.result,
           error = pg_catalog.left(_llm_finish.error, 500),
           cached_from = _llm_finish.cached_from,
           completed_at = pg_catalog.now()
     WHERE c.tenant_id = _llm_finish.tenant_id AND c.id = _llm_finish.call_id AND c.status = 'pending'
    RETURNING c.* INTO _c;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'LLM call % is not pending', _llm_finish.call_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    INSERT INTO skeldir.llm_monthly_spend AS m
           (tenant_id, month, calls, provider_calls, cached_calls, blocked_calls, failed_calls, routed_calls,
            input_tokens, output_tokens, cost_usd)
    VALUES (_c.tenant_id, pg_catalog.date_trunc('month', _c.completed_at AT TIME ZONE 'UTC')::date, 1,
            _c.provider_attempted::integer, (_c.status = 'cached')::integer, (_c.status = 'blocked')::integer,
            (_c.status IN ('error', 'timeout'))::integer, (_c.model <> _c.requested_model)::integer,
            _c.input_tokens, _c.output_tokens, _c.cost_usd)
    ON CONFLICT ON CONSTRAINT llm_monthly_spend_pkey DO UPDATE
       SET calls = m.calls + 1,
           provider_calls = m.provider_calls + excluded.provider_calls,
           cached_calls = m.cached_calls + excluded.cached_calls,
           blocked_calls = m.blocked_calls + excluded.blocked_calls,
           failed_calls = m.failed_calls + excluded.failed_calls,
           routed_calls = m.routed_calls + excluded.routed_calls,
           input_tokens = m.input_tokens + excluded.input_tokens,
           output_tokens = m.output_tokens + excluded.output_tokens,
           cost_usd = m.cost_usd + excluded.cost_usd,
           updated_at = pg_catalog.now();

    IF _c.task = 'investigation' THEN
        UPDATE skeldir.llm_investigations AS i
           SET status = _c.status, findings = _c.result, completed_at = _c.completed_at
         WHERE i.tenant_id = _c.tenant_id AND i.call_id = _c.id;
    ELSIF _c.task = 'budget_optimization' THEN
        UPDATE skeldir.llm_budget_jobs AS j
           SET status = _c.status, result = _c.result, completed_at = _c.completed_at
         WHERE j.tenant_id = _c.tenant_id AND j.call_id = _c.id;
    END IF;
    RETURN _c;
END;
$$;
COMMENT ON FUNCTION skeldir._llm_finish(uuid, bigint, text, text, boolean, integer, integer, double precision, jsonb, text, bigint) IS
    'Complete a pending LLM call once: price, monthly roll-up, downstream row. Raises 55000 when not pending.';

/**
 * Takes a finished LLM message off the queue. The message carries the prompt (the worker
 * needs it to call the provider) and no prompt may be persisted, so the inputs are
 * stripped before the message moves to the archive.
 */
CREATE FUNCTION skeldir._llm_message_done(msg_id bigint) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = '' AS $$
    UPDATE pgmq.q_llm AS q SET message = q.message - 'inputs' WHERE q.msg_id = _llm_message_done.msg_id;
    SELECT pgmq.archive('llm', _llm_message_done.msg_id);
$$;
COMMENT ON FUNCTION skeldir._llm_message_done(bigint) IS 'Strip the prompt from an llm message, then archive it.';

/** The JSON shape of one call, as GET /api/llm/calls/{request_id} returns it. */
CREATE FUNCTION skeldir._llm_call_json(c skeldir.llm_api_calls) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT pg_catalog.jsonb_build_object(
        'call_id', c.id, 'request_id', c.request_id, 'task', c.task, 'status', c.status,
        'blocked_reason', c.blocked_reason, 'provider', c.provider, 'model', c.model,
        'requested_model', c.requested_model,
        'provider_attempted', c.provider_attempted, 'input_tokens', c.input_tokens,
        'output_tokens', c.output_tokens, 'cost_usd', c.cost_usd, 'latency_ms', c.latency_ms,
        'cached_from', c.cached_from, 'result', c.result, 'error', c.error,
        'requested_at', c.requested_at, 'completed_at', c.completed_at,
        'status_url', '/api/llm/calls/' || c.request_id)
$$;
COMMENT ON FUNCTION skeldir._llm_call_json(skeldir.llm_api_calls) IS 'One LLM call as its API JSON.';

COMMIT;
