-- Revert skeldir:table_attribution_event from pg
BEGIN;

DROP TABLE skeldir.attribution_events;

COMMIT;
