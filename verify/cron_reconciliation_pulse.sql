-- Verify skeldir:cron_reconciliation_pulse on pg
DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RETURN;  -- no pg_cron in this database: the change is a recorded no-op
    END IF;
    IF NOT EXISTS (SELECT FROM cron.job WHERE jobname = 'skeldir-reconciliation-pulse') THEN
        RAISE EXCEPTION 'pg_cron job skeldir-reconciliation-pulse is missing' USING ERRCODE = 'undefined_object';
    END IF;
END;
$$;
