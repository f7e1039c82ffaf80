-- Deploy skeldir:table_llm_model_price to pg
BEGIN;

/**
 * Price per model, in USD per million tokens, input and output separately. The cost of a
 * call is computed in SQL from these and the call's token counts; a model not listed here
 * cannot be requested. Seeded with the deterministic stub provider's two models.
 */
CREATE TABLE skeldir.llm_model_prices (
    model                   text PRIMARY KEY CHECK (model ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    provider                text NOT NULL CHECK (provider ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    input_usd_per_mtok      numeric(12, 6) NOT NULL CHECK (input_usd_per_mtok >= 0),
    output_usd_per_mtok     numeric(12, 6) NOT NULL CHECK (output_usd_per_mtok >= 0),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skeldir.llm_model_prices IS 'USD per million input/output tokens, per model.';
INSERT INTO skeldir.llm_model_prices (model, provider, input_usd_per_mtok, output_usd_per_mtok)
VALUES ('stub-small', 'stub', 1.00, 2.00),
       ('stub-large', 'stub', 10.00, 30.00);

ALTER TABLE skeldir.llm_model_prices ENABLE ROW LEVEL SECURITY;

COMMIT;
