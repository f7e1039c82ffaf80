-- Revert skeldir:table_reconciliation from pg
BEGIN;

DROP TABLE skeldir.reconciliations;

COMMIT;
