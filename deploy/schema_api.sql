-- Deploy skeldir:schema_api to pg
BEGIN;

/**
 * The callable surface: definer functions for the shell, the poller and the
 * operators, and tenant-filtering views. Nothing in here is a table.
 */
CREATE SCHEMA api;
COMMENT ON SCHEMA api IS 'What runtime roles may call: functions and tenant-filtering views.';
REVOKE ALL ON SCHEMA api FROM PUBLIC;
GRANT USAGE ON SCHEMA api TO app_rw, app_ro;

COMMIT;
