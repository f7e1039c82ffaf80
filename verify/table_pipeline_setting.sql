-- Verify skeldir:table_pipeline_setting on pg
SELECT attribution_lookback, reconciliation_grace, archive_retention, dead_letter_retention, heartbeat_stale_after
  FROM skeldir.settings
 WHERE false;
