-- The LLM boundary in SQL: request, admission order, breaker, limits, cache, audit, prompt-free archive.
BEGIN;
SELECT plan(69);

-- Helpers (pg_temp, gone with the transaction) ---------------------------------------------
CREATE FUNCTION pg_temp.ask(tenant uuid, rid text, prompt text, task text DEFAULT 'explanation') RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM api.tenant_set(tenant);
    RETURN (api.llm_request(task, rid, jsonb_build_object('prompt', prompt), 'analyst-1') ->> 'call_id')::bigint;
END;
$$;
-- Admits everything visible and records each admitted call with the given outcome.
CREATE FUNCTION pg_temp.serve(outcome text DEFAULT 'success', tin integer DEFAULT 1000, tout integer DEFAULT 500)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    _r record;
    _n integer := 0;
BEGIN
    FOR _r IN SELECT * FROM api.llm_admit_batch(100) LOOP
        PERFORM api.llm_record(_r.msg_id, _r.tenant_id, _r.call_id, outcome, tin, tout, 12.5,
                               CASE WHEN outcome = 'success' THEN jsonb_build_object('answer', _r.call_id) END,
                               CASE WHEN outcome <> 'success' THEN 'provider said no' END);
        _n := _n + 1;
    END LOOP;
    RETURN _n;
END;
$$;
CREATE FUNCTION pg_temp.call_of(rid text) RETURNS skeldir.llm_api_calls
LANGUAGE sql AS $$ SELECT * FROM skeldir.llm_api_calls WHERE request_id = rid $$;

SELECT tenant_id AS tenant_a, api_key AS key_a FROM api.tenant_create('LLM A') \gset
SELECT tenant_id AS tenant_b FROM api.tenant_create('LLM B') \gset
SELECT tenant_id AS tenant_c FROM api.tenant_create('LLM C') \gset
UPDATE skeldir.llm_settings SET breaker_failure_threshold = 2, default_hourly_shutoff_usd = NULL,
                                default_monthly_budget_usd = NULL;

-- Shape -------------------------------------------------------------------------------------
SELECT has_table('skeldir', 'llm_api_calls', 'the audit table exists');
SELECT col_is_unique('skeldir', 'llm_api_calls', ARRAY['tenant_id', 'request_id'],
                     'one audit row per (tenant, request_id)');
SELECT is((SELECT count(*)::integer FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'skeldir' AND c.relname IN ('llm_api_calls', 'llm_monthly_spend', 'llm_tenant_limits',
                                                          'llm_investigations', 'llm_budget_jobs')
              AND c.relrowsecurity AND c.relforcerowsecurity), 5, 'every LLM tenant table forces RLS');
SELECT hasnt_column('skeldir', 'llm_api_calls', 'prompt', 'the audit has no prompt column');
SELECT ok(NOT has_function_privilege('app_user', 'api.llm_kill_switch_set(boolean)', 'EXECUTE'),
          'app_user cannot flip the kill switch');
SELECT ok(has_function_privilege('app_user', 'api.llm_request_http(text, text, text, bytea)', 'EXECUTE'),
          'app_user can request through the HTTP function');
SELECT ok(NOT has_table_privilege('app_user', 'skeldir.llm_api_calls', 'SELECT'), 'app_user cannot read the audit table');

-- Requests: validation, idempotency ---------------------------------------------------------
SELECT is((api.llm_request_http(:'key_a', 'u1', 'explanation',
           convert_to('{"request_id": "r-1", "inputs": {"prompt": "PROMPT-MARKER one"}}', 'UTF8'))).http_status,
          202, 'a new request is accepted with 202');
SELECT is((SELECT (status, provider, model, prompt_chars, length(prompt_hash))::text FROM pg_temp.call_of('r-1')),
          '(pending,stub,stub-small,17,32)', 'the audit row is pending with a 32-byte prompt hash');
SELECT is((SELECT count(*)::integer FROM pgmq.q_llm WHERE message ->> 'request_id' = 'r-1'), 1, 'one llm message is queued');
SELECT is((api.llm_request_http(:'key_a', 'u1', 'explanation',
           convert_to('{"request_id": "r-1", "inputs": {"prompt": "PROMPT-MARKER one"}}', 'UTF8'))).response::jsonb
           -> 'call_id', to_jsonb((pg_temp.call_of('r-1')).id), 'a repeated request_id returns the same call id');
SELECT is((SELECT count(*)::integer FROM skeldir.llm_api_calls WHERE request_id = 'r-1')
          + (SELECT count(*)::integer FROM pgmq.q_llm WHERE message ->> 'request_id' = 'r-1'), 2,
          'a repeated request_id writes no second row and sends no second message');
SELECT throws_ok($$SELECT api.llm_request_http('$$ || :'key_a' || $$', 'u1', 'explanation',
                   convert_to('{"request_id": "r-1", "inputs": {"prompt": "something else"}}', 'UTF8'))$$,
                 'SK409', NULL, 'a request_id reused for other inputs is a conflict');
SELECT throws_ok($$SELECT api.llm_request_http('$$ || :'key_a' || $$', 'u1', 'poetry',
                   convert_to('{"request_id": "r-x", "inputs": {"prompt": "x"}}', 'UTF8'))$$,
                 '22023', 'unknown LLM task poetry', 'an unknown task is rejected');
SELECT throws_ok($$SELECT api.llm_request_http('$$ || :'key_a' || $$', 'u1', 'route', convert_to('{"inputs": {}}', 'UTF8'))$$,
                 '22023', 'request_id (a string) is required', 'a missing request_id is rejected');
SELECT throws_ok($$SELECT api.llm_request_http('$$ || :'key_a' || $$', 'u1', 'route', convert_to('{not json', 'UTF8'))$$,
                 '22023', 'request body is not valid UTF-8 JSON', 'a body that is not JSON is rejected');
SELECT throws_ok($$SELECT api.llm_request_http('$$ || :'key_a' || $$', 'u1', 'route',
                   convert_to('{"request_id": "r-x", "inputs": {"prompt": "  "}}', 'UTF8'))$$,
                 '22023', 'inputs.prompt must be a non-empty string', 'a blank prompt is rejected');
SELECT throws_ok($$SELECT api.llm_request_http('$$ || :'key_a' || $$', 'u1', 'route',
                   convert_to('{"request_id": "r-x", "inputs": {"prompt": "x", "model": "gpt-9"}}', 'UTF8'))$$,
                 '22023', 'unknown model gpt-9', 'an unpriced model is rejected');
SELECT throws_ok($$SELECT api.llm_request_http('$$ || :'key_a' || $$', NULL, 'route',
                   convert_to('{"request_id": "r-x", "inputs": {"prompt": "x"}}', 'UTF8'))$$,
                 '22023', NULL, 'a missing user id is rejected');
SELECT throws_ok($$SELECT api.llm_request_http('skd_wrong', 'u1', 'route',
                   convert_to('{"request_id": "r-x", "inputs": {"prompt": "x"}}', 'UTF8'))$$,
                 '28000', 'unknown tenant key', 'an unknown tenant key is rejected before validation');
SELECT is((SELECT count(*)::integer FROM skeldir.llm_api_calls WHERE request_id = 'r-x'), 0, 'rejected requests store nothing');

-- Provider success: price, audit, prompt-free archive ---------------------------------------
SELECT is(pg_temp.serve('success', 1000, 500), 1, 'the pending call is admitted for a provider call');
SELECT is((SELECT (status, provider_attempted, input_tokens, output_tokens, cost_usd, latency_ms)::text
             FROM pg_temp.call_of('r-1')),
          '(success,t,1000,500,0.00200000,12.5)', 'success is recorded with tokens, cost = tokens * price, latency');
SELECT is((SELECT count(*)::integer FROM pgmq.q_llm), 0, 'the message left the queue');
SELECT is((SELECT count(*)::integer FROM pgmq.a_llm WHERE message ? 'inputs' OR message::text LIKE '%PROMPT-MARKER%'), 0,
          'the archived message carries no prompt');
SELECT is((SELECT (status, cost_usd)::text FROM api.llm_record((SELECT max(msg_id) FROM pgmq.a_llm), :'tenant_a',
                                                                (pg_temp.call_of('r-1')).id, 'error', 0, 0, 1, NULL, 'late')),
          '(success,0.00200000)', 'recording a redelivered call again returns the first outcome');
SELECT is((SELECT (calls, provider_calls, cost_usd)::text FROM skeldir.llm_monthly_spend WHERE tenant_id = :'tenant_a'),
          '(1,1,0.00200000)', 'the monthly roll-up counted the call once');

-- Cache -------------------------------------------------------------------------------------
SELECT pg_temp.ask(:'tenant_a', 'r-2', 'PROMPT-MARKER one');
SELECT is(pg_temp.serve(), 0, 'the same prompt and task within the TTL is not sent to the provider');
SELECT is((SELECT (status, provider_attempted, cached_from = (pg_temp.call_of('r-1')).id, result = (pg_temp.call_of('r-1')).result,
                   cost_usd)::text FROM pg_temp.call_of('r-2')),
          '(cached,f,t,t,0.00000000)', 'the cached call points at the original answer and costs nothing');
SELECT pg_temp.ask(:'tenant_a', 'r-3', 'PROMPT-MARKER one', 'route');
SELECT is(pg_temp.serve(), 1, 'the same prompt for another task is not a cache hit');
SELECT pg_temp.ask(:'tenant_b', 'r-1', 'PROMPT-MARKER one');
SELECT is(pg_temp.serve(), 1, 'another tenant''s identical prompt is not a cache hit');

-- Kill switch, first in the order -----------------------------------------------------------
SELECT ok(api.llm_kill_switch_set(true), 'the kill switch turns on with one call');
SELECT pg_temp.ask(:'tenant_a', 'r-4', 'PROMPT-MARKER one');
SELECT is(pg_temp.serve(), 0, 'nothing is admitted while the kill switch is on');
SELECT is((SELECT (status, blocked_reason, provider_attempted)::text FROM pg_temp.call_of('r-4')),
          '(blocked,provider_kill_switch,f)', 'kill switch: blocked before the cache could answer');
SELECT ok(NOT api.llm_kill_switch_set(false), 'the kill switch turns off');
SELECT throws_ok('SELECT api.llm_kill_switch_set(NULL)', '22023', NULL, 'the kill switch needs a state');

-- Breaker -----------------------------------------------------------------------------------
SELECT pg_temp.ask(:'tenant_a', 'b-1', 'fail one');
SELECT is(pg_temp.serve('error'), 1, 'a failing call is admitted');
SELECT is((SELECT (state, consecutive_failures)::text FROM skeldir.llm_breakers WHERE provider = 'stub'), '(closed,1)',
          'one failure below the threshold keeps the breaker closed');
SELECT pg_temp.ask(:'tenant_a', 'b-2', 'fail two');
SELECT pg_temp.serve('timeout');
SELECT is((SELECT (status, provider_attempted)::text FROM pg_temp.call_of('b-2')), '(timeout,t)', 'a timeout is audited as timeout');
SELECT is((SELECT state FROM skeldir.llm_breakers WHERE provider = 'stub'), 'open', 'the threshold of failures opens the breaker');
SELECT pg_temp.ask(:'tenant_a', 'b-3', 'while open');
SELECT is(pg_temp.serve(), 0, 'an open breaker admits nothing during the cool-down');
SELECT is((SELECT (status, blocked_reason)::text FROM pg_temp.call_of('b-3')), '(blocked,breaker_open)', 'blocked breaker_open');
UPDATE skeldir.llm_breakers SET opened_at = now() - interval '1 hour' WHERE provider = 'stub';
SELECT pg_temp.ask(:'tenant_a', 'b-4', 'trial');
SELECT pg_temp.ask(:'tenant_a', 'b-5', 'behind the trial');
SELECT is((SELECT count(*)::integer FROM api.llm_admit_batch(100)), 1, 'after the cool-down exactly one trial call is admitted');
SELECT is((SELECT state FROM skeldir.llm_breakers WHERE provider = 'stub'), 'half_open', 'the breaker is half-open during the trial');
SELECT is((SELECT (status, blocked_reason)::text FROM pg_temp.call_of('b-5')), '(blocked,breaker_open)',
          'a second call during the trial is blocked');
SELECT api.llm_record(m.msg_id, :'tenant_a', (pg_temp.call_of('b-4')).id, 'success', 10, 10, 5, '{"ok": true}', NULL)
  FROM pgmq.q_llm AS m WHERE m.message ->> 'request_id' = 'b-4';
SELECT is((SELECT (state, consecutive_failures)::text FROM skeldir.llm_breakers WHERE provider = 'stub'), '(closed,0)',
          'a successful trial closes the breaker');
SELECT pg_temp.ask(:'tenant_a', 'b-6', 'fail again 1');
SELECT pg_temp.ask(:'tenant_a', 'b-7', 'fail again 2');
SELECT is(pg_temp.serve('error'), 2, 'two more failures are admitted and fail');
UPDATE skeldir.llm_breakers SET opened_at = now() - interval '1 hour' WHERE provider = 'stub';
SELECT pg_temp.ask(:'tenant_a', 'b-8', 'failing trial');
SELECT is(pg_temp.serve('error'), 1, 'after the cool-down the trial is admitted');
SELECT is((SELECT (state, opened_at = now())::text FROM skeldir.llm_breakers WHERE provider = 'stub'), '(open,t)',
          'a failed trial reopens the breaker with a fresh cool-down');
SELECT pg_temp.ask(:'tenant_a', 'b-9', 'after failed trial');
SELECT is(pg_temp.serve(), 0, 'and calls are blocked again');
SELECT api.llm_breaker_reset('stub');

-- Hourly shutoff and monthly budget: block at the threshold, not below ------------------------
SELECT api.llm_tenant_limits_set(:'tenant_b', 0.004, NULL);
SELECT pg_temp.ask(:'tenant_b', 'h-1', 'hourly one');
SELECT is(pg_temp.serve(), 1, 'below the hourly shutoff a call is admitted (spend 0.002 of 0.004)');
SELECT pg_temp.ask(:'tenant_b', 'h-2', 'hourly two');
SELECT is(pg_temp.serve(), 0, 'at the hourly shutoff nothing is admitted (spend 0.004 of 0.004)');
SELECT is((SELECT (status, blocked_reason, provider_attempted)::text FROM pg_temp.call_of('h-2')),
          '(blocked,hourly_shutoff,f)', 'blocked hourly_shutoff');
SELECT api.llm_tenant_limits_set(:'tenant_c', 100, 0.003);
SELECT pg_temp.ask(:'tenant_c', 'm-1', 'budget one');
SELECT pg_temp.ask(:'tenant_c', 'm-2', 'budget two');
SELECT is(pg_temp.serve(), 2, 'below the monthly budget calls are admitted');
SELECT pg_temp.ask(:'tenant_c', 'm-3', 'budget three');
SELECT is(pg_temp.serve(), 0, 'at or over the monthly budget nothing is admitted');
SELECT is((SELECT (status, blocked_reason)::text FROM pg_temp.call_of('m-3')), '(blocked,budget_exceeded)', 'blocked budget_exceeded');
SELECT is((SELECT cost_usd FROM skeldir.llm_monthly_spend WHERE tenant_id = :'tenant_c'),
          (SELECT sum(cost_usd)::numeric(16, 8) FROM skeldir.llm_api_calls WHERE tenant_id = :'tenant_c'),
          'the monthly roll-up equals the sum of the audited costs');

-- Downstream rows -----------------------------------------------------------------------------
SELECT pg_temp.ask(:'tenant_a', 'i-1', 'why did revenue drop', 'investigation');
SELECT pg_temp.ask(:'tenant_a', 'o-1', 'shift budget', 'budget_optimization');
SELECT is((SELECT count(*)::integer FROM skeldir.llm_investigations WHERE request_id = 'i-1' AND status = 'pending'), 1,
          'an investigation request creates a pending investigation row');
SELECT pg_temp.serve();
SELECT is((SELECT (i.status, i.findings = c.result)::text FROM skeldir.llm_investigations AS i
             JOIN skeldir.llm_api_calls AS c ON (c.tenant_id, c.id) = (i.tenant_id, i.call_id) WHERE i.request_id = 'i-1'),
          '(success,t)', 'the investigation row holds the findings');
SELECT is((SELECT (j.status, j.result IS NOT NULL)::text FROM skeldir.llm_budget_jobs AS j WHERE j.request_id = 'o-1'),
          '(success,t)', 'the budget job row holds its result');

-- Redelivery and give-up ----------------------------------------------------------------------
SELECT pgmq.send('llm', jsonb_build_object('task', 'explanation', 'tenant_id', :'tenant_a',
                 'call_id', (pg_temp.call_of('r-1')).id, 'request_id', 'r-1', 'inputs', jsonb_build_object('prompt', 'x')));
SELECT is(pg_temp.serve(), 0, 'a redelivered message of a completed call is not admitted');
SELECT is((SELECT count(*)::integer FROM pgmq.q_llm), 0, 'and it is archived');
UPDATE skeldir.llm_settings SET max_deliveries = 1;
SELECT pg_temp.ask(:'tenant_a', 'g-1', 'never answered');
SELECT is((SELECT count(*)::integer FROM api.llm_admit_batch(100)), 1, 'first delivery admitted; the worker dies before recording');
SELECT pgmq.set_vt('llm', msg_id, 0) FROM pgmq.q_llm;
SELECT is((SELECT count(*)::integer FROM api.llm_admit_batch(100)), 0, 'a delivery beyond max_deliveries is not admitted');
SELECT is((SELECT (status, error)::text FROM pg_temp.call_of('g-1')), '(error,"no outcome after 1 deliveries")',
          'the call is completed as an error instead of staying pending');

-- Exactly one row per request, none pending, tenant isolation -----------------------------------
SELECT is((SELECT count(*)::integer FROM skeldir.llm_api_calls WHERE status = 'pending'), 0, 'no call is left pending');
SET LOCAL ROLE app_user;
SELECT api.tenant_set(:'tenant_b');
SELECT is((SELECT array_agg(request_id ORDER BY request_id) FROM api.llm_calls), ARRAY['h-1', 'h-2', 'r-1'],
          'tenant B sees only its own calls');
SELECT throws_ok('SELECT count(*) FROM skeldir.llm_api_calls', '42501', NULL, 'app_user cannot read the audit table');
SELECT throws_ok('SELECT api.llm_kill_switch_set(true)', '42501', NULL, 'app_user cannot execute the kill switch');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
