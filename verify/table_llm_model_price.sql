-- Verify skeldir:table_llm_model_price on pg
SELECT model, provider, input_usd_per_mtok, output_usd_per_mtok, cheaper_model, updated_at
  FROM skeldir.llm_model_prices
 WHERE false;
