-- Revert skeldir:cron_housekeeping from pg
BEGIN;

DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NOT NULL THEN
        PERFORM cron.unschedule('skeldir-housekeeping');
    END IF;
END;
$$;

COMMIT;
