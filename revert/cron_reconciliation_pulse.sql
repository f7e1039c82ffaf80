-- Revert skeldir:cron_reconciliation_pulse from pg
BEGIN;

DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NOT NULL THEN
        PERFORM cron.unschedule('skeldir-reconciliation-pulse');
    END IF;
END;
$$;

COMMIT;
