-- Verify skeldir:cron_housekeeping on pg
DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RETURN;  -- no pg_cron in this database: the change is a recorded no-op
    END IF;
    IF NOT EXISTS (SELECT FROM cron.job WHERE jobname = 'skeldir-housekeeping') THEN
        RAISE EXCEPTION 'pg_cron job skeldir-housekeeping is missing' USING ERRCODE = 'undefined_object';
    END IF;
END;
$$;
