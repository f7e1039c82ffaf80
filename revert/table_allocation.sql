-- Revert skeldir:table_allocation from pg
BEGIN;

DROP TABLE skeldir.allocations;

COMMIT;
