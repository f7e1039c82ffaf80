-- Verify skeldir:function_matview_refresh on pg
SELECT 'skeldir._matview_touch(text[])'::regprocedure,
       'skeldir.matview_refresh(text, text)'::regprocedure,
       'skeldir.matview_refresh_dirty(text)'::regprocedure;
