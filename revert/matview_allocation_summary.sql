-- Revert skeldir:matview_allocation_summary from pg
BEGIN;

DELETE FROM skeldir.matview_state WHERE view_name = 'mv_allocation_summary';
DROP MATERIALIZED VIEW skeldir.mv_allocation_summary;

COMMIT;
