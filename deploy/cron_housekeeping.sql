-- Deploy skeldir:cron_housekeeping to pg
-- pg_cron lives only in the database named by cron.database_name; elsewhere (the test
-- template) this change deploys as a recorded no-op, like cron_matview_pulse.
BEGIN;

DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RAISE NOTICE 'pg_cron is not installed in this database; skeldir-housekeeping not scheduled';
        RETURN;
    END IF;
    -- Retention of archives, dead letters, refresh log; stale worker heartbeats.
    PERFORM cron.schedule('skeldir-housekeeping', '*/5 * * * *', $job$SELECT skeldir.housekeeping_run()$job$);
END;
$$;

COMMIT;
