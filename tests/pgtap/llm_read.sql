-- Reading the LLM boundary as the real roles: tenant views, global views, dashboard functions, grants.
BEGIN;
SELECT plan(17);

SELECT tenant_id AS tenant_a FROM api.tenant_create('Read A') \gset
SELECT tenant_id AS tenant_b FROM api.tenant_create('Read B') \gset
SELECT api.tenant_set(:'tenant_a');
SELECT api.llm_request('explanation', 'read-1', '{"prompt": "read one"}', 'ops') IS NOT NULL AS requested;
SELECT api.llm_request('investigation', 'read-2', '{"prompt": "read two"}', 'ops') IS NOT NULL AS requested;
SELECT count(api.llm_record(b.msg_id, b.tenant_id, b.call_id, 'success', 100, 100, 3, '{"a": 1}', NULL)) AS recorded
  FROM api.llm_admit_batch(10) AS b;

-- Shape: what the views expose, and what they do not.
SELECT hasnt_column('api', 'llm_calls', 'prompt_hash', 'api.llm_calls does not expose the prompt hash');
SELECT hasnt_column('api', 'llm_calls', 'tenant_id', 'api.llm_calls does not expose tenant ids');
SELECT is((SELECT count(*)::integer FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'api' AND c.relname IN ('llm_calls', 'llm_monthly_spend', 'llm_investigations',
                  'llm_budget_jobs', 'llm_spend_state', 'dashboard_ingest_counters', 'dashboard_failed_jobs')
              AND c.reloptions @> ARRAY['security_barrier=true']), 7, 'every tenant view is a security_barrier view');

SET LOCAL ROLE app_ro;
SELECT set_config('app.current_tenant_id', '', true);
SELECT is_empty('SELECT * FROM api.llm_calls', 'app_ro without a tenant sees no calls');
SELECT is_empty('SELECT * FROM api.llm_spend_state', 'app_ro without a tenant has no spend state');
SELECT api.tenant_set(:'tenant_a');
SELECT is((SELECT array_agg(status ORDER BY request_id) FROM api.llm_calls), ARRAY['success', 'success'],
          'app_ro reads the tenant''s calls');
SELECT is((SELECT (calls, provider_calls)::text FROM api.llm_monthly_spend), '(2,2)', 'app_ro reads the monthly roll-up');
SELECT is((SELECT count(*)::integer FROM api.llm_investigations WHERE status = 'success'), 1, 'app_ro reads investigations');
SELECT is((SELECT hourly_shutoff_active FROM api.llm_spend_state), false, 'app_ro reads the spend state');
SELECT api.tenant_set(:'tenant_b');
SELECT is_empty('SELECT * FROM api.llm_calls', 'another tenant sees none of the calls');
SELECT is_empty('SELECT * FROM api.llm_monthly_spend', 'another tenant sees none of the spend');
SELECT is((SELECT count(*)::integer FROM api.llm_breakers), 1, 'the global breaker view is readable under any tenant');
SELECT ok((SELECT bool_or(queue_name = 'llm' AND total_sent >= 2) FROM api.dashboard_queue_health()),
          'app_ro reads broker truth through api.dashboard_queue_health');
SELECT ok((SELECT count(*) >= 1 FROM api.dashboard_matview_freshness()), 'app_ro reads matview freshness');
SELECT throws_ok($$SELECT api.llm_request('route', 'ro-1', '{"prompt": "x"}', 'ro')$$, '42501', NULL,
                 'app_ro cannot request LLM calls');
SELECT throws_ok('SELECT * FROM api.llm_admit_batch(1)', '42501', NULL, 'app_ro cannot consume the llm queue');
SELECT throws_ok('SELECT * FROM skeldir.llm_breakers', '42501', NULL, 'app_ro cannot read the breaker table');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
