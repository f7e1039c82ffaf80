-- Revert skeldir:table_ingest_counter from pg
BEGIN;

DROP TABLE skeldir.ingest_counters;

COMMIT;
