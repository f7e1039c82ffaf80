-- Revert skeldir:index_attribution_event_occurred from pg
BEGIN;

DROP INDEX skeldir.attribution_events_occurred_brin;

COMMIT;
