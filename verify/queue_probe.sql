-- Verify skeldir:queue_probe on pg
SELECT 1 / pg_catalog.count(*)::integer FROM pgmq.meta WHERE queue_name = 'probe';
