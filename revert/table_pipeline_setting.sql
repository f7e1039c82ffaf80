-- Revert skeldir:table_pipeline_setting from pg
BEGIN;

ALTER TABLE skeldir.settings
    DROP COLUMN attribution_lookback,
    DROP COLUMN reconciliation_grace,
    DROP COLUMN archive_retention,
    DROP COLUMN dead_letter_retention,
    DROP COLUMN heartbeat_stale_after;

COMMIT;
