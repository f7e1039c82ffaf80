-- Models bound to providers in SQL, and budget-pressure routing to the cheaper model.
BEGIN;
SELECT plan(39);

CREATE FUNCTION pg_temp.ask(tenant uuid, rid text, prompt text, model text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM api.tenant_set(tenant);
    RETURN (api.llm_request('explanation', rid,
                            jsonb_strip_nulls(jsonb_build_object('prompt', prompt, 'model', model)),
                            'analyst-1') ->> 'call_id')::bigint;
END;
$$;
-- Admits everything visible (keeping what admission returned in pg_temp.admitted) and
-- records each admitted call as a success with the given tokens.
CREATE TEMP TABLE admitted (msg_id bigint, tenant_id uuid, call_id bigint, task text, provider text, model text,
                            timeout_ms integer, inputs jsonb);
CREATE FUNCTION pg_temp.serve(tin integer DEFAULT 1000, tout integer DEFAULT 500) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    _r record;
    _n integer := 0;
BEGIN
    DELETE FROM pg_temp.admitted;
    FOR _r IN SELECT * FROM api.llm_admit_batch(100) LOOP
        INSERT INTO pg_temp.admitted VALUES (_r.msg_id, _r.tenant_id, _r.call_id, _r.task, _r.provider, _r.model,
                                             _r.timeout_ms, _r.inputs);
        PERFORM api.llm_record(_r.msg_id, _r.tenant_id, _r.call_id, 'success', tin, tout, 3, '{"a": 1}', NULL);
        _n := _n + 1;
    END LOOP;
    RETURN _n;
END;
$$;
CREATE FUNCTION pg_temp.call_of(rid text) RETURNS skeldir.llm_api_calls
LANGUAGE sql AS $$ SELECT * FROM skeldir.llm_api_calls WHERE request_id = rid $$;

SELECT tenant_id AS tenant_a FROM api.tenant_create('Route A') \gset
SELECT tenant_id AS tenant_b FROM api.tenant_create('Route B') \gset
UPDATE skeldir.llm_settings SET default_hourly_shutoff_usd = NULL, default_monthly_budget_usd = NULL;

-- Shape ---------------------------------------------------------------------------------------
SELECT has_column('skeldir', 'llm_api_calls', 'requested_model', 'the audit keeps the requested model');
SELECT has_column('skeldir', 'llm_model_prices', 'cheaper_model', 'a model names its cheaper model');
SELECT is((SELECT budget_pressure_share FROM skeldir.llm_settings), 0.800, 'routing down starts at 80% by default');
SELECT is((SELECT cheaper_model FROM api.llm_models WHERE model = 'stub-large'), 'stub-small',
          'the seeded large stub model routes down to the small one');
SELECT ok(NOT has_function_privilege('app_user', 'api.llm_model_set(text, text, numeric, numeric, text)', 'EXECUTE'),
          'app_user cannot register models');

-- Registering models ----------------------------------------------------------------------------
SELECT lives_ok($$SELECT api.llm_model_set('gpt-small', 'openai', 0.15, 0.60)$$, 'a model is bound to the openai provider');
SELECT lives_ok($$SELECT api.llm_model_set('gpt-big', 'openai', 2.50, 10.00, 'gpt-small')$$,
                'a model is registered with its cheaper model');
SELECT lives_ok($$SELECT api.llm_model_set('meta-llama/Llama-3.1-8B:Q4', 'openai', 0, 0)$$,
                'provider-style model names (case, slash, colon) are accepted');
SELECT is((SELECT (provider, input_usd_per_mtok, output_usd_per_mtok, cheaper_model, is_default)::text
             FROM api.llm_models WHERE model = 'gpt-big'),
          '(openai,2.500000,10.000000,gpt-small,f)', 'api.llm_models lists the model, its prices and its route');
SELECT is((SELECT state FROM api.llm_breakers WHERE provider = 'openai'), 'closed',
          'registering a model gives its provider a breaker');
SELECT lives_ok($$SELECT api.llm_model_set('gpt-small', 'openai', 0.20, 0.80)$$, 'setting a model again replaces its prices');
SELECT is((SELECT (input_usd_per_mtok, output_usd_per_mtok)::text FROM api.llm_models WHERE model = 'gpt-small'),
          '(0.200000,0.800000)', 'the new prices are in place');
SELECT throws_ok($$SELECT api.llm_model_set('gpt-small', 'openai', 0.2, 0.8, 'gpt-big')$$, '22023',
                 'model gpt-big is not cheaper than gpt-small', 'a route to a dearer model is refused');
SELECT throws_ok($$SELECT api.llm_model_set('gpt-small', 'openai', 3, 0.8)$$, '22023',
                 'model gpt-big routes to gpt-small under budget pressure and would cost less than it',
                 're-pricing a cheaper model above the model routing to it is refused');
SELECT throws_ok($$SELECT api.llm_model_set('gpt-big', 'openai', 2.5, 10, 'gpt-nope')$$, 'SK404',
                 'unknown cheaper model gpt-nope', 'a route to an unregistered model is refused');
SELECT throws_ok($$SELECT api.llm_model_set('gpt-big', 'openai', 2.5, 10, 'gpt-big')$$, '22023',
                 'a model cannot route to itself', 'a route to itself is refused');
SELECT throws_ok($$SELECT api.llm_model_set('gpt-big', 'openai', -1, 10)$$, '22023',
                 'prices must be given and not negative', 'a negative price is refused');
SELECT throws_ok($$SELECT api.llm_model_set('gpt big!', 'openai', 1, 1)$$, '22023', NULL, 'a malformed model name is refused');
SELECT throws_ok($$SELECT api.llm_model_set('gpt-x', 'Open AI', 1, 1)$$, '22023', NULL, 'a malformed provider is refused');

-- Budget pressure: below the share nothing changes (negative control) ---------------------------
-- Tenant A: budget 0.10 USD, so routing down starts at 0.08. stub-large costs 10 / 30 USD per
-- million input / output tokens, stub-small 1 / 2.
SELECT api.llm_tenant_limits_set(:'tenant_a', NULL, 0.10);
SELECT pg_temp.ask(:'tenant_a', 'p-1', 'first large', 'stub-large');
SELECT is(pg_temp.serve(7900, 0), 1, 'the first call is admitted');
SELECT is((SELECT (requested_model, model, cost_usd)::text FROM pg_temp.call_of('p-1')),
          '(stub-large,stub-large,0.07900000)', 'with no spend the requested model is called and priced');
SELECT pg_temp.ask(:'tenant_a', 'p-2', 'second large', 'stub-large');
SELECT is(pg_temp.serve(100, 0), 1, 'the second call is admitted');
SELECT is((SELECT (requested_model, model)::text FROM pg_temp.call_of('p-2')), '(stub-large,stub-large)',
          'at 0.079 of 0.10 (79%, below the share) the requested model is still called');
SELECT is((SELECT (budget_pressure, budget_pressure_usd = 0.08)::text FROM api.llm_spend_state), '(t,t)',
          'at 0.080 of 0.10 the tenant is under budget pressure');

-- ... at the share the cheaper model is called ---------------------------------------------------
SELECT pg_temp.ask(:'tenant_a', 'p-3', 'third large', 'stub-large');
SELECT is(pg_temp.serve(1000, 500), 1, 'the third call is admitted');
SELECT is((SELECT (provider, model) FROM pg_temp.admitted)::text, '(stub,stub-small)',
          'admission hands the worker the cheaper model');
SELECT is((SELECT (requested_model, model, cost_usd)::text FROM pg_temp.call_of('p-3')),
          '(stub-large,stub-small,0.00200000)', 'the audit keeps both models and prices the one called');
SELECT is((SELECT (calls, routed_calls)::text FROM skeldir.llm_monthly_spend WHERE tenant_id = :'tenant_a'), '(3,1)',
          'the monthly roll-up counts the routed call');
SELECT pg_temp.ask(:'tenant_a', 'p-4', 'small asked', 'stub-small');
SELECT pg_temp.serve();
SELECT is((SELECT (requested_model, model)::text FROM pg_temp.call_of('p-4')), '(stub-small,stub-small)',
          'a model without a cheaper model is called as requested under pressure');
SELECT is((SELECT routed_calls FROM skeldir.llm_monthly_spend WHERE tenant_id = :'tenant_a'), 1::bigint,
          'and does not count as routed');

-- The share is configurable -------------------------------------------------------------------------
UPDATE skeldir.llm_settings SET budget_pressure_share = 1;
SELECT pg_temp.ask(:'tenant_a', 'p-5', 'large at share 1', 'stub-large');
SELECT pg_temp.serve(1, 0);
SELECT is((SELECT model FROM pg_temp.call_of('p-5')), 'stub-large', 'with the share at 100% the same spend is not routed');
UPDATE skeldir.llm_settings SET budget_pressure_share = 0.8;

-- The kill switch decides before routing: the row keeps the requested model ---------------------------
SELECT api.llm_kill_switch_set(true);
SELECT pg_temp.ask(:'tenant_a', 'p-6', 'large while killed', 'stub-large');
SELECT pg_temp.serve();
SELECT is((SELECT (status, requested_model, model)::text FROM pg_temp.call_of('p-6')),
          '(blocked,stub-large,stub-large)', 'a call blocked by the kill switch is not routed');
SELECT api.llm_kill_switch_set(false);

-- Routing picks the provider, and the provider's breaker is checked after routing --------------------
SELECT api.llm_model_set('gpt-big', 'openai', 2.50, 10.00, 'stub-small');
UPDATE skeldir.llm_breakers SET state = 'open', opened_at = now(), consecutive_failures = 5 WHERE provider = 'openai';
SELECT pg_temp.ask(:'tenant_b', 'q-1', 'big while openai is down', 'gpt-big');
SELECT pg_temp.serve();
SELECT is((SELECT (status, blocked_reason, provider, model)::text FROM pg_temp.call_of('q-1')),
          '(blocked,breaker_open,openai,gpt-big)', 'without budget pressure the call goes to openai, whose breaker is open');
SELECT pg_temp.ask(:'tenant_a', 'q-2', 'big under pressure', 'gpt-big');
SELECT is(pg_temp.serve(), 1, 'under budget pressure the same request is admitted');
SELECT is((SELECT (status, provider, requested_model, model)::text FROM pg_temp.call_of('q-2')),
          '(success,stub,gpt-big,stub-small)', 'it was routed to the cheaper model on another provider');
SELECT is((SELECT state FROM skeldir.llm_breakers WHERE provider = 'openai'), 'open',
          'the requested provider''s breaker was not touched');

-- Read side, as the runtime role --------------------------------------------------------------------
SET LOCAL ROLE app_user;
SELECT api.tenant_set(:'tenant_a');
SELECT is((SELECT array_agg(request_id ORDER BY request_id) FROM api.llm_calls WHERE model <> requested_model),
          ARRAY['p-3', 'q-2'], 'api.llm_calls shows which calls were routed');
SELECT is((SELECT routed_calls FROM api.llm_monthly_spend), 2::bigint, 'api.llm_monthly_spend counts them');
SELECT throws_ok($$SELECT api.llm_model_set('gpt-y', 'openai', 1, 1)$$, '42501', NULL,
                 'app_user cannot execute api.llm_model_set');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
