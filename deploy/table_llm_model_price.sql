-- Deploy skeldir:table_llm_model_price to pg
BEGIN;

/**
 * Price per model, in USD per million tokens, input and output separately. The cost of a
 * call is computed in SQL from these and the call's token counts; a model not listed here
 * cannot be requested. provider names the implementation in skeldir/llm/provider.py that
 * serves the model (stub, openai); cheaper_model is where admission sends a call for this
 * model once the tenant's month-to-date spend passes llm_settings.budget_pressure_share of
 * its monthly budget (one hop; NULL: never rerouted). Model names follow the providers'
 * own spelling (gpt-4o-mini, llama3.1:8b, meta-llama/Llama-3.1-8B). Seeded with the
 * deterministic stub provider's two models, the large one routing down to the small one.
 */
CREATE TABLE skeldir.llm_model_prices (
    model                   text PRIMARY KEY CHECK (model ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$'),
    provider                text NOT NULL CHECK (provider ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    input_usd_per_mtok      numeric(12, 6) NOT NULL CHECK (input_usd_per_mtok >= 0),
    output_usd_per_mtok     numeric(12, 6) NOT NULL CHECK (output_usd_per_mtok >= 0),
    cheaper_model           text REFERENCES skeldir.llm_model_prices (model),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (cheaper_model <> model)
);
COMMENT ON TABLE skeldir.llm_model_prices IS 'USD per million input/output tokens, per model.';
INSERT INTO skeldir.llm_model_prices (model, provider, input_usd_per_mtok, output_usd_per_mtok)
VALUES ('stub-small', 'stub', 1.00, 2.00),
       ('stub-large', 'stub', 10.00, 30.00);
UPDATE skeldir.llm_model_prices SET cheaper_model = 'stub-small' WHERE model = 'stub-large';

ALTER TABLE skeldir.llm_model_prices ENABLE ROW LEVEL SECURITY;

COMMIT;
