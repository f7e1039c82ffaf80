-- Verify skeldir:function_llm_operator on pg
DO $$
DECLARE
    _fn text;
BEGIN
    FOREACH _fn IN ARRAY '{"api.llm_kill_switch_set(boolean)","api.llm_tenant_limits_set(uuid, numeric, numeric)","api.llm_breaker_reset(text)"}'::text[] LOOP
        IF pg_catalog.has_function_privilege('app_user', _fn, 'EXECUTE')
           OR pg_catalog.has_function_privilege('public', _fn, 'EXECUTE') THEN
            RAISE EXCEPTION '%: operator function executable by a runtime role', _fn
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
