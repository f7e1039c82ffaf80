-- Deploy skeldir:function_llm_admit to pg
BEGIN;

/**
 * The admission decision for one pending call, before any provider call, in this order:
 *   1. kill switch (llm_settings.kill_switch)                    -> blocked provider_kill_switch
 *   2. routing: the provider of the requested model, as llm_model_prices says now; when the
 *      tenant's spend this UTC month >= budget_pressure_share of its monthly budget and the
 *      requested model has a cheaper_model, that model and its provider instead (one hop)
 *   3. the chosen provider's circuit breaker: open and cooling down,
 *      or half-open with its one trial still in flight           -> blocked breaker_open
 *   4. the tenant's spend over the last rolling hour >= shutoff  -> blocked hourly_shutoff
 *   5. the tenant's spend this UTC month >= monthly budget       -> blocked budget_exceeded
 *   6. a success for the same tenant, task and prompt hash
 *      within the cache TTL                                      -> cached (cached_from)
 *   otherwise                                                    -> call
 * provider and model are the routing's choice (the call's own values when the kill switch
 * decided first). Thresholds act at the limit and not below it. When the breaker is open
 * past its cool-down (or its trial was abandoned) and the decision is call, this call
 * becomes the half-open trial. Internal: run by api.llm_admit_batch with the tenant GUC set.
 */
CREATE FUNCTION skeldir._llm_admit(call skeldir.llm_api_calls,
    OUT decision text, OUT blocked_reason text, OUT cached_from bigint, OUT provider text, OUT model text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _s      skeldir.llm_settings;
    _b      skeldir.llm_breakers;
    _trial  boolean := false;
    _limit  numeric;
    _spend  numeric;
    _budget numeric;
    _month  numeric;
    _route  record;
BEGIN
    SELECT * INTO STRICT _s FROM skeldir.llm_settings;
    decision := 'blocked';
    provider := call.provider;
    model := call.model;

    IF _s.kill_switch THEN
        blocked_reason := 'provider_kill_switch';
        RETURN;
    END IF;

    _budget := coalesce((SELECT l.monthly_budget_usd FROM skeldir.llm_tenant_limits AS l
                          WHERE l.tenant_id = call.tenant_id), _s.default_monthly_budget_usd);
    SELECT coalesce(pg_catalog.sum(m.cost_usd), 0) INTO _month
      FROM skeldir.llm_monthly_spend AS m
     WHERE m.tenant_id = call.tenant_id
       AND m.month = pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC')::date;
    -- Decided from the requested model every time, so a redelivered call is routed afresh.
    SELECT r.provider AS requested_provider, c.model AS cheaper_model, c.provider AS cheaper_provider
      INTO _route
      FROM skeldir.llm_model_prices AS r
      LEFT JOIN skeldir.llm_model_prices AS c ON c.model = r.cheaper_model
     WHERE r.model = call.requested_model;
    IF FOUND THEN
        IF _route.cheaper_model IS NOT NULL AND _budget IS NOT NULL
           AND _month >= _budget * _s.budget_pressure_share THEN
            provider := _route.cheaper_provider;
            model := _route.cheaper_model;
        ELSE
            provider := _route.requested_provider;
            model := call.requested_model;
        END IF;
    END IF;

    -- Row lock: admissions for one provider serialize here, so only one half-open trial passes.
    SELECT b.* INTO _b FROM skeldir.llm_breakers AS b WHERE b.provider = _llm_admit.provider FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO skeldir.llm_breakers AS b (provider) VALUES (_llm_admit.provider) ON CONFLICT DO NOTHING;
        SELECT b.* INTO STRICT _b FROM skeldir.llm_breakers AS b WHERE b.provider = _llm_admit.provider FOR UPDATE;
    END IF;
    IF _b.state = 'open' THEN
        IF pg_catalog.now() < _b.opened_at + _s.breaker_cooldown THEN
            blocked_reason := 'breaker_open';
            RETURN;
        END IF;
        _trial := true;
    ELSIF _b.state = 'half_open' THEN
        -- A trial whose worker died is abandoned once it could no longer report.
        IF _b.trial_started_at > pg_catalog.now() - pg_catalog.make_interval(secs => _s.call_timeout_ms / 1000.0)
                                                  - _s.redelivery_margin THEN
            blocked_reason := 'breaker_open';
            RETURN;
        END IF;
        _trial := true;
    END IF;

    _limit := coalesce((SELECT l.hourly_shutoff_usd FROM skeldir.llm_tenant_limits AS l
                         WHERE l.tenant_id = call.tenant_id), _s.default_hourly_shutoff_usd);
    IF _limit IS NOT NULL THEN
        SELECT coalesce(pg_catalog.sum(c.cost_usd), 0) INTO _spend
          FROM skeldir.llm_api_calls AS c
         WHERE c.tenant_id = call.tenant_id AND c.completed_at > pg_catalog.now() - interval '1 hour';
        IF _spend >= _limit THEN
            blocked_reason := 'hourly_shutoff';
            RETURN;
        END IF;
    END IF;

    IF _budget IS NOT NULL AND _month >= _budget THEN
        blocked_reason := 'budget_exceeded';
        RETURN;
    END IF;

    SELECT c.id INTO cached_from
      FROM skeldir.llm_api_calls AS c
     WHERE c.tenant_id = call.tenant_id AND c.task = call.task AND c.prompt_hash = call.prompt_hash
       AND c.status = 'success' AND c.completed_at > pg_catalog.now() - _s.cache_ttl
     ORDER BY c.completed_at DESC
     LIMIT 1;
    IF cached_from IS NOT NULL THEN
        decision := 'cached';
        RETURN;
    END IF;

    IF _trial THEN
        UPDATE skeldir.llm_breakers AS b
           SET state = 'half_open', trial_started_at = pg_catalog.now(), updated_at = pg_catalog.now()
         WHERE b.provider = _llm_admit.provider;
    END IF;
    decision := 'call';
END;
$$;
COMMENT ON FUNCTION skeldir._llm_admit(skeldir.llm_api_calls) IS
    'Admission: kill switch, budget-pressure routing, breaker, hourly shutoff, monthly budget, cache. Raises nothing.';

/**
 * The LLM consumer's first call per batch, one transaction: read up to `batch` llm
 * messages (pgmq.read takes them FOR UPDATE SKIP LOCKED, so concurrent workers never share
 * one) with a visibility timeout longer than any admitted call may take, and for each:
 *   - its call is already complete (redelivery)          -> archive, nothing else
 *   - delivered more than max_deliveries times           -> complete as error, archive
 *   - admission blocks it or the cache answers it         -> complete (blocked / cached), archive
 *   - admitted                                            -> returned, with the inputs, for
 *     the worker to call the provider and then api.llm_record.
 * The provider and model admission chose (budget-pressure routing) are written to the call
 * before it completes, so the audit shows both requested_model and model.
 * Archived llm messages never keep their inputs (the prompt). A message that is not an
 * llm call of this deployment is deleted. Runs as its owner: app_user may not touch pgmq
 * or the audit tables. Raises 22023 for a batch outside 1..100.
 */
CREATE FUNCTION api.llm_admit_batch(batch integer DEFAULT 10)
RETURNS TABLE (msg_id bigint, tenant_id uuid, call_id bigint, task text, provider text, model text,
               timeout_ms integer, inputs jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _s  skeldir.llm_settings;
    _m  pgmq.message_record;
    _c  skeldir.llm_api_calls;
    _d  record;
    _vt integer;
    _before text := pg_catalog.current_setting('app.current_tenant_id', true);
BEGIN
    IF llm_admit_batch.batch IS NULL OR llm_admit_batch.batch NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'batch must be between 1 and 100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO STRICT _s FROM skeldir.llm_settings;
    -- Invisible for longer than an admitted call can take, so a live worker keeps its message.
    _vt := pg_catalog.ceil(_s.call_timeout_ms / 1000.0 + extract(epoch FROM _s.redelivery_margin))::integer;

    FOR _m IN SELECT * FROM pgmq.read('llm', _vt, llm_admit_batch.batch) LOOP
        BEGIN
            PERFORM pg_catalog.set_config('app.current_tenant_id',
                skeldir._uuid_or_nil(_m.message ->> 'tenant_id')::text, true);
            _c := NULL;
            IF pg_catalog.jsonb_typeof(_m.message -> 'call_id') = 'number' THEN
                SELECT c.* INTO _c
                  FROM skeldir.llm_api_calls AS c
                 WHERE c.tenant_id = skeldir._uuid_or_nil(_m.message ->> 'tenant_id')
                   AND c.id = (_m.message ->> 'call_id')::bigint
                   -- NOWAIT: a call locked by api.llm_record is being completed; leave its
                   -- message for the next delivery instead of waiting (and deadlocking on the breaker).
                   FOR UPDATE NOWAIT;
            END IF;
            IF _c.id IS NULL THEN
                PERFORM pgmq.delete('llm', _m.msg_id);
                CONTINUE;
            END IF;
            IF _c.status <> 'pending' THEN
                PERFORM skeldir._llm_message_done(_m.msg_id);
                CONTINUE;
            END IF;
            UPDATE skeldir.llm_api_calls AS c SET deliveries = _m.read_ct
             WHERE c.tenant_id = _c.tenant_id AND c.id = _c.id;
            IF _m.read_ct > _s.max_deliveries THEN
                PERFORM skeldir._llm_finish(_c.tenant_id, _c.id, 'error',
                    error => pg_catalog.format('no outcome after %s deliveries', _m.read_ct - 1));
                PERFORM skeldir._llm_message_done(_m.msg_id);
                CONTINUE;
            END IF;

            SELECT * INTO _d FROM skeldir._llm_admit(_c);
            IF (_d.provider, _d.model) IS DISTINCT FROM (_c.provider, _c.model) THEN
                -- Routed (to the cheaper model under budget pressure, or back to the requested
                -- one on a redelivery): priced, audited and called as the model chosen here.
                UPDATE skeldir.llm_api_calls AS c SET provider = _d.provider, model = _d.model
                 WHERE c.tenant_id = _c.tenant_id AND c.id = _c.id;
                _c.provider := _d.provider;
                _c.model := _d.model;
            END IF;
            IF _d.decision = 'blocked' THEN
                PERFORM skeldir._llm_finish(_c.tenant_id, _c.id, 'blocked', blocked_reason => _d.blocked_reason);
                PERFORM skeldir._llm_message_done(_m.msg_id);
                CONTINUE;
            ELSIF _d.decision = 'cached' THEN
                PERFORM skeldir._llm_finish(_c.tenant_id, _c.id, 'cached', cached_from => _d.cached_from,
                    result => (SELECT o.result FROM skeldir.llm_api_calls AS o
                                WHERE o.tenant_id = _c.tenant_id AND o.id = _d.cached_from));
                PERFORM skeldir._llm_message_done(_m.msg_id);
                CONTINUE;
            END IF;

            msg_id := _m.msg_id;
            tenant_id := _c.tenant_id;
            call_id := _c.id;
            task := _c.task;
            provider := _c.provider;
            model := _c.model;
            timeout_ms := _s.call_timeout_ms;
            inputs := _m.message -> 'inputs';
            RETURN NEXT;
        EXCEPTION WHEN OTHERS THEN
            -- The message stays invisible until its timeout and comes back; after
            -- max_deliveries the guard above completes its call as an error.
            RAISE WARNING 'llm message % not admitted: %', _m.msg_id, SQLSTATE;
        END;
    END LOOP;
    -- Leave the caller's tenant GUC as it was.
    PERFORM pg_catalog.set_config('app.current_tenant_id', coalesce(_before, ''), true);
END;
$$;
COMMENT ON FUNCTION api.llm_admit_batch(integer) IS
    'Read llm messages, run admission, complete blocked/cached/redelivered calls, return those to call. Raises 22023.';
REVOKE ALL ON FUNCTION api.llm_admit_batch(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.llm_admit_batch(integer) TO app_rw;

COMMIT;
