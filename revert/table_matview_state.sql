-- Revert skeldir:table_matview_state from pg
BEGIN;

REVOKE SELECT ON skeldir.attribution_events, skeldir.allocations FROM matview_owner;
REVOKE USAGE, CREATE ON SCHEMA skeldir FROM matview_owner;
DROP TABLE skeldir.matview_refresh_log;
DROP TABLE skeldir.matview_state;

COMMIT;
