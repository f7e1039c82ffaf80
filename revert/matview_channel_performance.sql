-- Revert skeldir:matview_channel_performance from pg
BEGIN;

DELETE FROM skeldir.matview_state WHERE view_name = 'mv_channel_performance';
DROP TABLE skeldir.mv_channel_performance;

COMMIT;
