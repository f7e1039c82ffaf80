-- Revert skeldir:matview_daily_revenue_summary from pg
BEGIN;

DELETE FROM skeldir.matview_state WHERE view_name = 'mv_daily_revenue_summary';
DROP TABLE skeldir.mv_daily_revenue_summary;

COMMIT;
