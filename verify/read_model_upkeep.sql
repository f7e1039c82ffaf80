-- Verify skeldir:read_model_upkeep on pg

SELECT tenant_id, xact, view_name, id, day, key1, key2, currency, kind, n, minor, minor2
  FROM skeldir.read_model_deltas WHERE false;
SELECT 'skeldir._read_model_enlist(uuid[])'::regprocedure,
       'skeldir._read_model_log_processed(text, uuid[], bigint[], bigint[])'::regprocedure,
       'skeldir._read_model_fold(text, uuid)'::regprocedure,
       'skeldir._read_model_recompute(text, uuid)'::regprocedure,
       'skeldir.read_model_upkeep(text, boolean)'::regprocedure,
       'skeldir.read_models_rebuild(text)'::regprocedure,
       'skeldir.worker_failed_jobs_allocate_event_idx'::regclass;
-- The apply runs as its owner, and PUBLIC may not call it.
SELECT 1 / (SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_proc AS p
             WHERE p.oid = 'skeldir._read_model_apply()'::regprocedure AND p.prosecdef
               AND p.proconfig @> ARRAY['search_path=""']
               AND NOT pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE'));
SELECT 1 / (SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_trigger AS t
             WHERE t.tgname = 'read_model_deltas_apply' AND t.tgdeferrable AND t.tginitdeferred);
SELECT 1 / (SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_trigger AS t
             WHERE t.tgname IN ('allocations_log_insert', 'allocations_log_update', 'allocations_log_delete',
                                'attribution_events_log_update', 'attribution_events_log_delete',
                                'reconciliations_log_insert', 'reconciliations_log_update', 'reconciliations_log_delete',
                                'worker_failed_jobs_log_insert', 'worker_failed_jobs_log_delete') AND NOT t.tgisinternal) / 10;
-- Reworked: the realtime read model is a table kept by the same deltas, read through a view.
SELECT tenant_id, bucket, currency, order_count, order_minor, payment_count, payment_minor, refund_count, refund_minor
  FROM skeldir.realtime_revenue WHERE false;
SELECT bucket FROM skeldir.read_model_deltas WHERE false;
SELECT 1 / (SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_class AS c
             WHERE c.oid = 'skeldir.mv_realtime_revenue'::regclass AND c.relkind = 'v'
               AND pg_catalog.pg_get_userbyid(c.relowner) = 'matview_owner');
SELECT 1 / (SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_class AS c
             WHERE c.oid = 'skeldir.realtime_revenue'::regclass AND c.relrowsecurity AND c.relforcerowsecurity);
SELECT 1 / (SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_proc AS p
             WHERE p.oid = 'skeldir._read_model_fold(text, uuid)'::regprocedure AND p.prosrc LIKE '%skeldir.realtime_revenue%');
