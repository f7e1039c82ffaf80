-- Deploy skeldir:cron_reconciliation_pulse to pg
-- pg_cron lives only in the database named by cron.database_name; elsewhere (the test
-- template) this change deploys as a recorded no-op, like cron_matview_pulse.
BEGIN;

DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RAISE NOTICE 'pg_cron is not installed in this database; skeldir-reconciliation-pulse not scheduled';
        RETURN;
    END IF;
    -- Pending reconciliations whose grace period ended become missing_payment / missing_order.
    PERFORM cron.schedule('skeldir-reconciliation-pulse', '* * * * *',
                          $job$SELECT skeldir.reconciliation_reevaluate()$job$);
END;
$$;

COMMIT;
