-- Revert skeldir:table_llm_model_price from pg
BEGIN;

DROP TABLE skeldir.llm_model_prices;

COMMIT;
