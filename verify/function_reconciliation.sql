-- Verify skeldir:function_reconciliation on pg
SELECT 'skeldir._reconciliation_status(boolean, bigint, text, boolean, bigint, text, timestamptz, timestamptz, interval)'::regprocedure,
       'skeldir._reconcile(uuid, text)'::regprocedure,
       'skeldir._reconcile_refs(uuid, text[])'::regprocedure,
       'skeldir.reconciliation_reevaluate()'::regprocedure;
