-- Verify skeldir:function_pii on pg
SELECT 'skeldir._redact_text(text)'::regprocedure,
       'skeldir._keep_text(jsonb)'::regprocedure,
       'skeldir._keep_scalar(jsonb)'::regprocedure,
       'skeldir._keep_shape(jsonb)'::regprocedure,
       'skeldir._keep_attribution(jsonb)'::regprocedure,
       'skeldir._customer_ref(text)'::regprocedure;
DO $$
BEGIN
    IF pg_catalog.has_function_privilege('public', 'skeldir._customer_ref(text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'PUBLIC can execute skeldir._customer_ref' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
