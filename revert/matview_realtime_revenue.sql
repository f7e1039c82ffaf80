-- Revert skeldir:matview_realtime_revenue from pg
BEGIN;

DELETE FROM skeldir.matview_state WHERE view_name = 'mv_realtime_revenue';
DROP MATERIALIZED VIEW skeldir.mv_realtime_revenue;

COMMIT;
