-- Revert skeldir:cron_matview_pulse from pg
BEGIN;

DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NOT NULL THEN
        PERFORM cron.unschedule('skeldir-matview-pulse');
    END IF;
END;
$$;

COMMIT;
