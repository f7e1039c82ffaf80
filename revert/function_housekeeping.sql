-- Revert skeldir:function_housekeeping from pg
BEGIN;

DROP FUNCTION skeldir.housekeeping_run();

COMMIT;
