-- Deploy skeldir:function_llm_model to pg
BEGIN;

/**
 * Registers or replaces a model: the provider implementation that serves it (stub,
 * openai; see docs/llm.md), its prices in USD per million input and output tokens, and
 * the cheaper model admission routes it to under budget pressure (NULL: none). A full
 * definition: leaving cheaper_model out clears the route. The cheaper model must be
 * registered and cost no more per token, input and output, than this one, and a model
 * that routes to this one must keep costing at least as much (so no route leads to a
 * dearer model and routes cannot cycle through cheaper prices). Makes sure the
 * provider has a circuit breaker row, so it shows on the dashboards and can be reset.
 * Operator-only: runs as the caller (migration_owner); no runtime role may execute it.
 * Raises 22023 for a bad name, provider, price or cheaper model, SK404 for an unknown
 * cheaper model.
 */
CREATE FUNCTION api.llm_model_set(model text, provider text, input_usd_per_mtok numeric,
                                  output_usd_per_mtok numeric, cheaper_model text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _cheaper skeldir.llm_model_prices;
    _dearer  skeldir.llm_model_prices;
BEGIN
    IF llm_model_set.model IS NULL OR llm_model_set.model !~ '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$' THEN
        RAISE EXCEPTION 'model name % is not allowed', coalesce(pg_catalog.left(llm_model_set.model, 64), '(none)')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A model name is 1 to 128 characters of A-Z a-z 0-9 . _ : / - (starting alphanumeric).',
                  HINT = 'Use the provider''s own model name, e.g. gpt-4o-mini.';
    END IF;
    IF llm_model_set.provider IS NULL OR llm_model_set.provider !~ '^[a-z0-9][a-z0-9_-]{0,31}$' THEN
        RAISE EXCEPTION 'provider name % is not allowed', coalesce(pg_catalog.left(llm_model_set.provider, 64), '(none)')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Providers: stub, openai.';
    END IF;
    IF llm_model_set.input_usd_per_mtok IS NULL OR llm_model_set.output_usd_per_mtok IS NULL
       OR llm_model_set.input_usd_per_mtok < 0 OR llm_model_set.output_usd_per_mtok < 0 THEN
        RAISE EXCEPTION 'prices must be given and not negative' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Prices are USD per million tokens, e.g. 0.15 input and 0.60 output.';
    END IF;
    IF llm_model_set.cheaper_model IS NOT NULL THEN
        IF llm_model_set.cheaper_model = llm_model_set.model THEN
            RAISE EXCEPTION 'a model cannot route to itself' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Name a cheaper model registered before, or leave it out.';
        END IF;
        SELECT p.* INTO _cheaper FROM skeldir.llm_model_prices AS p WHERE p.model = llm_model_set.cheaper_model;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unknown cheaper model %', pg_catalog.left(llm_model_set.cheaper_model, 64)
                USING ERRCODE = 'SK404', HINT = 'Register the cheaper model first (skeldir llm model set).';
        END IF;
        IF _cheaper.input_usd_per_mtok > llm_model_set.input_usd_per_mtok
           OR _cheaper.output_usd_per_mtok > llm_model_set.output_usd_per_mtok THEN
            RAISE EXCEPTION 'model % is not cheaper than %', _cheaper.model, llm_model_set.model
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('%s costs %s / %s USD per million input / output tokens.',
                                                 _cheaper.model, _cheaper.input_usd_per_mtok, _cheaper.output_usd_per_mtok),
                      HINT = 'Budget pressure routes to a model that costs no more, input and output.';
        END IF;
    END IF;
    SELECT p.* INTO _dearer
      FROM skeldir.llm_model_prices AS p
     WHERE p.cheaper_model = llm_model_set.model
       AND (p.input_usd_per_mtok < llm_model_set.input_usd_per_mtok
            OR p.output_usd_per_mtok < llm_model_set.output_usd_per_mtok)
     ORDER BY p.model
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'model % routes to % under budget pressure and would cost less than it', _dearer.model,
                        llm_model_set.model
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('%s costs %s / %s USD per million input / output tokens.',
                                             _dearer.model, _dearer.input_usd_per_mtok, _dearer.output_usd_per_mtok),
                  HINT = 'Re-register that model first, with another cheaper model or none.';
    END IF;
    INSERT INTO skeldir.llm_model_prices AS p (model, provider, input_usd_per_mtok, output_usd_per_mtok, cheaper_model)
    VALUES (llm_model_set.model, llm_model_set.provider, llm_model_set.input_usd_per_mtok,
            llm_model_set.output_usd_per_mtok, llm_model_set.cheaper_model)
    ON CONFLICT ON CONSTRAINT llm_model_prices_pkey DO UPDATE
       SET provider = excluded.provider, input_usd_per_mtok = excluded.input_usd_per_mtok,
           output_usd_per_mtok = excluded.output_usd_per_mtok, cheaper_model = excluded.cheaper_model,
           updated_at = pg_catalog.now();
    INSERT INTO skeldir.llm_breakers AS b (provider) VALUES (llm_model_set.provider) ON CONFLICT DO NOTHING;
END;
$$;
COMMENT ON FUNCTION api.llm_model_set(text, text, numeric, numeric, text) IS
    'Operator: register or replace a model (provider, USD per million tokens, cheaper model). Raises 22023, SK404.';

/**
 * Every registered model with its provider, prices, budget-pressure route and whether it
 * is the default. Deployment-wide configuration, not tenant data: readable by the runtime
 * and dashboard roles (an app can list what it may request). Runs as its owner.
 */
CREATE VIEW api.llm_models AS
SELECT p.model, p.provider, p.input_usd_per_mtok, p.output_usd_per_mtok, p.cheaper_model,
       p.model = s.default_model AS is_default, p.updated_at
  FROM skeldir.llm_model_prices AS p
 CROSS JOIN skeldir.llm_settings AS s;
COMMENT ON VIEW api.llm_models IS 'Registered LLM models: provider, USD per million tokens, cheaper model, default.';
GRANT SELECT ON api.llm_models TO app_rw, app_ro;

COMMIT;
