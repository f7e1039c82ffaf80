-- Verify skeldir:function_queue_metrics on pg
SELECT queue_name, depth, visible, oldest_age_seconds, sent_total FROM api.queue_metrics() WHERE FALSE;
SELECT 1 / (pg_catalog.has_function_privilege('app_user', 'api.queue_metrics()', 'EXECUTE')
            AND NOT pg_catalog.has_function_privilege('public', 'api.queue_metrics()', 'EXECUTE'))::integer;
