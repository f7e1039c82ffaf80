-- Deploy skeldir:schema_skeldir to pg
BEGIN;

/**
 * Private storage: every table and internal helper. App roles get USAGE only so that
 * RLS policies can call the tenant helper; they hold no privilege on any table here.
 */
CREATE SCHEMA skeldir;
COMMENT ON SCHEMA skeldir IS 'Private storage of Skeldir core; reach it through schema api.';
REVOKE ALL ON SCHEMA skeldir FROM PUBLIC;
GRANT USAGE ON SCHEMA skeldir TO app_rw, app_ro;

COMMIT;
