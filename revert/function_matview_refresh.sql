-- Revert skeldir:function_matview_refresh from pg
BEGIN;

DROP FUNCTION skeldir.matview_refresh_dirty(text);
DROP FUNCTION skeldir.matview_refresh(text, text);
DROP FUNCTION skeldir._matview_touch(text[]);

COMMIT;
