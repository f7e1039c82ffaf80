-- Revert skeldir:function_reconciliation from pg
BEGIN;

DROP FUNCTION skeldir.reconciliation_reevaluate();
DROP FUNCTION skeldir._reconcile(uuid, text);
DROP FUNCTION skeldir._reconcile_refs(uuid, text[]);
DROP FUNCTION skeldir._reconciliation_status(boolean, bigint, text, boolean, bigint, text, timestamptz, timestamptz, interval);

COMMIT;
