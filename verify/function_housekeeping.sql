-- Verify skeldir:function_housekeeping on pg
SELECT 'skeldir.housekeeping_run()'::regprocedure;
