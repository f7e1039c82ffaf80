-- Verify skeldir:read_model_upkeep on pg

SELECT tenant_id, id, view_name, day, logged_at FROM skeldir.read_model_invalidations WHERE false;
SELECT tenant_id, id, view_name, day, key1, key2, currency, kind, n, minor, minor2 FROM skeldir.read_model_deltas WHERE false;
SELECT 'skeldir._read_model_recompute(text, uuid, date[])'::regprocedure,
       'skeldir._read_model_fold(text, uuid)'::regprocedure,
       'skeldir.read_model_upkeep(text, boolean)'::regprocedure,
       'skeldir.read_models_rebuild(text)'::regprocedure,
       'skeldir.attribution_events_tenant_day_idx'::regclass,
       'skeldir.allocations_tenant_day_idx'::regclass,
       'skeldir.reconciliations_tenant_day_idx'::regclass;
SELECT 1 / (SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_trigger AS t
             WHERE t.tgname IN ('allocations_invalidate_insert', 'allocations_invalidate_update',
                                'allocations_invalidate_delete', 'attribution_events_invalidate_update',
                                'attribution_events_invalidate_delete', 'reconciliations_invalidate_insert',
                                'reconciliations_invalidate_update', 'reconciliations_invalidate_delete',
                                'worker_failed_jobs_invalidate_insert') AND NOT t.tgisinternal) / 9;
