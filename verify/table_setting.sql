-- Verify skeldir:table_setting on pg
SELECT singleton, customer_ref_key, signature_tolerance, secret_rotation_window,
       task_max_retries, task_backoff_base, task_visibility_timeout, matview_refresh_delay, matview_refresh_budget
  FROM skeldir.settings
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer FROM skeldir.settings;
