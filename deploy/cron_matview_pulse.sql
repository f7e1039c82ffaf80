-- Deploy skeldir:cron_matview_pulse to pg
-- pg_cron lives only in the database named by cron.database_name; in any other database
-- (for example the test template) this change deploys as a recorded no-op.
BEGIN;

DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RAISE NOTICE 'pg_cron is not installed in this database; skeldir-matview-pulse not scheduled';
        RETURN;
    END IF;
    PERFORM cron.schedule('skeldir-matview-pulse', '* * * * *',
                          $job$SELECT skeldir.matview_pulse()$job$);
END;
$$;

COMMIT;
