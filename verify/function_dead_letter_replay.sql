-- Verify skeldir:function_dead_letter_replay on pg
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY ARRAY['api.dead_letter_list(text, text, boolean)', 'api.dead_letter_replay(bigint)',
                               'api.dead_letter_replay_reason(text, text)'] LOOP
        IF pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION 'app roles can run operator function %', _fn USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
