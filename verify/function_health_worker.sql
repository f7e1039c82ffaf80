-- Verify skeldir:function_health_worker on pg
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY '{"api.worker_probe_send()","api.worker_probe_answer()","api.health_worker(bigint, interval)"}'::text[] LOOP
        IF NOT pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION '%: wrong EXECUTE grants', _fn USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
SELECT workers, heartbeat_age_seconds, probe_answered FROM api.health_worker(0) WHERE FALSE;
