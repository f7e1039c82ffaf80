-- Verify skeldir:function_llm_model on pg
SELECT model, provider, input_usd_per_mtok, output_usd_per_mtok, cheaper_model, is_default, updated_at
  FROM api.llm_models WHERE false;
DO $$
BEGIN
    IF pg_catalog.has_function_privilege('app_user', 'api.llm_model_set(text, text, numeric, numeric, text)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('app_ro', 'api.llm_model_set(text, text, numeric, numeric, text)', 'EXECUTE')
       OR pg_catalog.has_function_privilege('public', 'api.llm_model_set(text, text, numeric, numeric, text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'api.llm_model_set: operator function executable by a runtime role'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT pg_catalog.has_table_privilege('app_user', 'api.llm_models', 'SELECT')
       OR NOT pg_catalog.has_table_privilege('app_ro', 'api.llm_models', 'SELECT')
       OR pg_catalog.has_table_privilege('public', 'api.llm_models', 'SELECT') THEN
        RAISE EXCEPTION 'api.llm_models: wrong SELECT grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
