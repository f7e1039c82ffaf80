-- Deploy skeldir:table_pipeline_setting to pg
BEGIN;

-- Settings of the task pipeline (SPEC §6), in the one settings row:
--   attribution_lookback   how far back a customer's earlier events count as touchpoints;
--   reconciliation_grace   how long an order waits for its payment (and vice versa) before
--                          it is reported missing_payment / missing_order;
--   archive_retention      pgmq archive rows and matview refresh log entries kept this long;
--   dead_letter_retention  dead letters kept this long (replay them before);
--   heartbeat_stale_after  a worker heartbeat older than this is removed.
ALTER TABLE skeldir.settings
    ADD COLUMN attribution_lookback  interval NOT NULL DEFAULT '30 days'
        CHECK (attribution_lookback >= '0 seconds'),
    ADD COLUMN reconciliation_grace  interval NOT NULL DEFAULT '1 hour'
        CHECK (reconciliation_grace >= '0 seconds'),
    ADD COLUMN archive_retention     interval NOT NULL DEFAULT '7 days'
        CHECK (archive_retention > '0 seconds'),
    ADD COLUMN dead_letter_retention interval NOT NULL DEFAULT '30 days'
        CHECK (dead_letter_retention > '0 seconds'),
    ADD COLUMN heartbeat_stale_after interval NOT NULL DEFAULT '10 minutes'
        CHECK (heartbeat_stale_after > '0 seconds');

COMMIT;
