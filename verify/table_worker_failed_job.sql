-- Verify skeldir:table_worker_failed_job on pg
SELECT tenant_id, task_id, task_name, queue, retry_count, status, error_message, payload, failed_at
  FROM skeldir.worker_failed_jobs
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.worker_failed_jobs'::regclass AND relrowsecurity AND relforcerowsecurity;
