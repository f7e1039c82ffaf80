-- Dashboard: tasks of the current tenant that exhausted their retries, by queue, task and
-- status, with the most recent error.
SELECT f.queue,
       f.task_name,
       f.status,
       count(*) AS jobs,
       max(f.retry_count) AS max_retry_count,
       min(f.failed_at) AS first_failed_at,
       max(f.failed_at) AS last_failed_at,
       (array_agg(f.error_message ORDER BY f.failed_at DESC))[1] AS last_error
  FROM api.dashboard_failed_jobs AS f
 GROUP BY f.queue, f.task_name, f.status
 ORDER BY last_failed_at DESC;
