-- api.tenant_read: key authentication, validation, paging, tenant scoping, as app_user.
BEGIN;
SELECT plan(11);

SELECT has_function('api', 'tenant_read', ARRAY['text', 'text', 'jsonb'], 'the read API function exists');
SELECT is_definer('api', 'tenant_read', ARRAY['text', 'text', 'jsonb'], 'it runs as its owner');

SELECT tenant_id AS t1, api_key AS k1 FROM api.tenant_create('Reader One') \gset
SELECT tenant_id AS t2, api_key AS k2 FROM api.tenant_create('Reader Two') \gset
INSERT INTO skeldir.attribution_events
       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, payment_ref, amount_minor, currency, occurred_at, payload, route)
VALUES (:'t1', 'stripe', 'p', 'payment', 'a', 'a', 'pi_a', 100, 'USD', '2026-11-01 10:00Z', '{}', 't'),
       (:'t1', 'stripe', 'p', 'payment', 'b', 'b', 'pi_b', 200, 'USD', '2026-11-02 10:00Z', '{}', 't'),
       (:'t1', 'stripe', 'p', 'payment', 'c', 'c', 'pi_c', 300, 'EUR', '2026-11-02 11:00Z', '{}', 't'),
       (:'t2', 'stripe', 'p', 'payment', 'd', 'd', 'pi_d', 999, 'USD', '2026-11-02 10:00Z', '{}', 't');
-- Allocated as the worker would (an event counts in the daily summary once processed), then
-- the read models rebuilt from the base tables.
INSERT INTO skeldir.allocations (tenant_id, event_id, kind, channel, model, amount_minor, currency, occurred_at)
SELECT tenant_id, id, kind, 'direct', 'last_touch', amount_minor, currency, occurred_at FROM skeldir.attribution_events;
SELECT count(*) FROM skeldir.read_models_rebuild('test');

SET LOCAL ROLE app_user;
SELECT throws_ok($$ SELECT * FROM skeldir.mv_daily_revenue_summary $$, '42501', NULL, 'app_user cannot read the matview itself');
SELECT throws_ok(format($$ SELECT api.tenant_read(%L, 'revenue_daily') $$, 'sk_wrong'), '28000', 'unknown tenant key',
    'an unknown key raises 28000');
SELECT throws_ok(format($$ SELECT api.tenant_read(%L, 'everything') $$, :'k1'), '22023', NULL, 'an unknown resource raises 22023');
SELECT throws_ok(format($$ SELECT api.tenant_read(%L, 'channels', '{"sort": "x"}') $$, :'k1'), '22023', 'unknown parameter "sort"',
    'an unknown parameter raises 22023 naming it');
SELECT throws_ok(format($$ SELECT api.tenant_read(%L, 'channels', '{"from": "2026-11-31"}') $$, :'k1'), '22023', 'invalid parameter "from"',
    'an impossible date raises 22023 naming the parameter');

SELECT is(api.tenant_read(:'k1', 'revenue_daily', '{"from": "2026-11-01", "to": "2026-11-02", "limit": "2"}')
            - 'items',
          '{"resource": "revenue_daily", "from": "2026-11-01", "to": "2026-11-02", "limit": 2, "offset": 0, "total": 3}'::jsonb,
          'the page header: resource, range, limit, offset and the total row count');
SELECT is(jsonb_path_query_array(api.tenant_read(:'k1', 'revenue_daily', '{"from": "2026-11-01", "to": "2026-11-02", "offset": "1"}'),
                                 '$.items[*] ? (@.payment_minor > 0) .payment_minor'),
          '[300, 200]'::jsonb, 'items in (day, currency) order, paged by offset');
SELECT is(api.tenant_read(:'k2', 'revenue_daily', '{"from": "2026-11-01", "to": "2026-11-30"}') -> 'total', '1'::jsonb,
          'another tenant''s key sees only its own rows');
SELECT is(current_setting('app.current_tenant_id', true), '', 'the tenant GUC is cleared after the call');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
