-- Verify skeldir:function_task_run on pg
SELECT 'skeldir._uuid_or_nil(text)'::regprocedure, 'skeldir._matview_flush()'::regprocedure,
       'skeldir._matview_refresh_enqueue()'::regprocedure, 'skeldir.matview_pulse()'::regprocedure;
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY '{"api.worker_heartbeat(uuid, integer, text, text[], timestamptz)","api.worker_stopped(uuid)"}'::text[] LOOP
        IF NOT pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION '%: wrong EXECUTE grants', _fn USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
