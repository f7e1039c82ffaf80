-- Revert skeldir:matview_allocation_summary from pg
BEGIN;

DELETE FROM skeldir.matview_state WHERE view_name = 'mv_allocation_summary';
DROP TABLE skeldir.mv_allocation_summary;

COMMIT;
