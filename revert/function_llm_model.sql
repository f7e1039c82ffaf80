-- Revert skeldir:function_llm_model from pg
BEGIN;

DROP VIEW api.llm_models;
DROP FUNCTION api.llm_model_set(text, text, numeric, numeric, text);

COMMIT;
