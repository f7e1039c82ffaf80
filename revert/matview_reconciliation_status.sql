-- Revert skeldir:matview_reconciliation_status from pg
BEGIN;

DELETE FROM skeldir.matview_state WHERE view_name = 'mv_reconciliation_status';
DROP TABLE skeldir.mv_reconciliation_status;

COMMIT;
