-- Deploy skeldir:function_webhook_field to pg
-- Reworked after v1.0.0 (issue 21, lever 4): the per-field helpers become SQL-standard
-- single expressions the planner inlines into the mappings' own expressions, so reading a
-- field is no PL/pgSQL call (each cost a call, a search_path save and restore and, for
-- _timestamp, a subtransaction). Each expression answers only what it can vouch for (a value
-- of the expected type, a timestamp of the usual forms, a query parameter without escapes);
-- everything else, every refusal included, is answered by the v1.0.0 code itself, kept under
-- the name <helper>_checked (or _query_param_decoded): same values, same SK422 reasons and
-- details by construction. The expressions are kept small: PL/pgSQL initialises each one
-- once per transaction, and the ingest path runs a few deliveries per transaction.
-- A fallback takes the same arguments as the test that chose it: when the planner folds a call
-- with constant arguments, it folds the test too, so it never runs a fallback on a branch not
-- taken (the _checked functions keep v1.0.0's volatility, as its code could be folded then).
-- Signatures are unchanged (the mappings and the released revert depend on them).
BEGIN;

/** The v1.0.0 skeldir._field: every answer of a value the inlined one does not vouch for. Raises SK422. */
CREATE FUNCTION skeldir._field_checked(doc jsonb, path text, want text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
    _value jsonb := doc #> pg_catalog.string_to_array(path, '.');
BEGIN
    IF _value IS NULL OR _value = 'null'::jsonb THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:' || path;
    END IF;
    IF pg_catalog.jsonb_typeof(_value) <> want THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_type:' || path,
            DETAIL = pg_catalog.format('expected %s, got %s', want, pg_catalog.jsonb_typeof(_value));
    END IF;
    RETURN _value;
END;
$$;
COMMENT ON FUNCTION skeldir._field_checked(jsonb, text, text) IS
    'Required typed field (v1.0.0 code). Raises SK422 missing_field:<path> | bad_type:<path>.';

/**
 * The JSON value at a dotted path, required and of the given jsonb type.
 * Raises SK422 with the dead-letter reason: missing_field:<path> or bad_type:<path>.
 * BEGIN ATOMIC, one expression: inlined where it is called (the path folds to a constant).
 */
CREATE OR REPLACE FUNCTION skeldir._field(doc jsonb, path text, want text) RETURNS jsonb
LANGUAGE sql STABLE BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.jsonb_typeof(doc #> pg_catalog.string_to_array(path, '.')) = want
                THEN doc #> pg_catalog.string_to_array(path, '.')
                ELSE skeldir._field_checked(doc, path, want) END;
END;
COMMENT ON FUNCTION skeldir._field(jsonb, text, text) IS
    'Required typed field. Raises SK422 missing_field:<path> | bad_type:<path>.';

/** The v1.0.0 skeldir._text, for what the inlined one does not vouch for. Raises SK422. */
CREATE FUNCTION skeldir._text_checked(doc jsonb, path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
    _value text := skeldir._field(doc, path, 'string') #>> '{}';
BEGIN
    IF pg_catalog.btrim(_value) = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'missing_field:' || path;
    END IF;
    RETURN _value;
END;
$$;
COMMENT ON FUNCTION skeldir._text_checked(jsonb, text) IS 'Required non-empty string (v1.0.0 code). Raises SK422.';

/** A required non-empty string field. Raises SK422 like skeldir._field. Inlined (BEGIN ATOMIC). */
CREATE OR REPLACE FUNCTION skeldir._text(doc jsonb, path text) RETURNS text
LANGUAGE sql STABLE BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.jsonb_typeof(doc #> pg_catalog.string_to_array(path, '.')) = 'string'
                 AND pg_catalog.btrim(doc #>> pg_catalog.string_to_array(path, '.')) <> ''
                THEN doc #>> pg_catalog.string_to_array(path, '.')
                ELSE skeldir._text_checked(doc, path) END;
END;
COMMENT ON FUNCTION skeldir._text(jsonb, text) IS 'Required non-empty string. Raises SK422.';

/**
 * A required identifier that vendors send as a JSON string or number (Shopify order ids
 * exceed 2^53: jsonb keeps numbers as exact numerics, so the digits survive intact).
 * Inlined (BEGIN ATOMIC).
 */
CREATE OR REPLACE FUNCTION skeldir._ident(doc jsonb, path text) RETURNS text
LANGUAGE sql STABLE BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.jsonb_typeof(doc #> pg_catalog.string_to_array(path, '.')) = 'number'
                THEN doc #>> pg_catalog.string_to_array(path, '.')
                ELSE skeldir._text(doc, path) END;
END;
COMMENT ON FUNCTION skeldir._ident(jsonb, text) IS 'Required id, string or exact number. Raises SK422.';

/** The v1.0.0 skeldir._optional_ident, for what the inlined one does not vouch for. Raises SK422. */
CREATE FUNCTION skeldir._optional_ident_checked(doc jsonb, path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
    _value jsonb := doc #> pg_catalog.string_to_array(path, '.');
BEGIN
    IF _value IS NULL OR _value = 'null'::jsonb THEN
        RETURN NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(_value) NOT IN ('string', 'number') THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_type:' || path,
            DETAIL = pg_catalog.format('expected string or number, got %s', pg_catalog.jsonb_typeof(_value));
    END IF;
    RETURN nullif(pg_catalog.btrim(_value #>> '{}'), '');
END;
$$;
COMMENT ON FUNCTION skeldir._optional_ident_checked(jsonb, text) IS
    'Optional id (v1.0.0 code), string or exact number, else NULL. Raises SK422 bad_type.';

/**
 * An optional identifier: NULL when absent or JSON null, the text of a string or exact
 * number otherwise. Anything else (an object, an array, a boolean) is not an identifier:
 * SK422 bad_type:<path>, so a hostile document cannot smuggle a huge array in as a reference.
 * Inlined (BEGIN ATOMIC).
 */
CREATE OR REPLACE FUNCTION skeldir._optional_ident(doc jsonb, path text) RETURNS text
LANGUAGE sql STABLE BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.jsonb_typeof(doc #> pg_catalog.string_to_array(path, '.')) IN ('string', 'number')
                THEN nullif(pg_catalog.btrim(doc #>> pg_catalog.string_to_array(path, '.')), '')
                WHEN coalesce(doc #> pg_catalog.string_to_array(path, '.'), 'null') = 'null'
                THEN NULL
                ELSE skeldir._optional_ident_checked(doc, path) END;  -- refused
END;
COMMENT ON FUNCTION skeldir._optional_ident(jsonb, text) IS 'Optional id, string or exact number, else NULL. Raises SK422 bad_type.';

/**
 * Major units (a decimal string) to integer minor units at a currency's ISO 4217 exponent,
 * exactly: amount * 10^exponent must be a whole number that fits in bigint. For a currency
 * the caller has already validated and looked up (the mappings read skeldir.currencies once
 * per delivery, exponent included); an amount it does not vouch for is answered by
 * skeldir._minor_units(amount, currency), which refuses it as v1.0.0 did.
 * Raises SK422 bad_amount. Inlined (BEGIN ATOMIC).
 */
CREATE FUNCTION skeldir._minor_units_at(amount text, currency text, exponent integer) RETURNS bigint
LANGUAGE sql STABLE BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.btrim(amount) ~ '^-?[0-9]+(\.[0-9]+)?$' THEN
                    CASE WHEN pg_catalog.min_scale(pg_catalog.btrim(amount)::numeric) <= exponent
                          AND pg_catalog.abs(pg_catalog.btrim(amount)::numeric * (10::numeric ^ exponent))
                              <= 9223372036854775807
                         THEN (pg_catalog.btrim(amount)::numeric * (10::numeric ^ exponent))::bigint
                         ELSE skeldir._minor_units(amount, currency) END
                ELSE skeldir._minor_units(amount, currency) END;
END;
COMMENT ON FUNCTION skeldir._minor_units_at(text, text, integer) IS
    'Exact major-to-minor conversion at a known ISO 4217 exponent. Raises SK422 bad_amount.';

/** The v1.0.0 skeldir._minor_integer, for what the inlined one does not vouch for. Raises SK422. */
CREATE FUNCTION skeldir._minor_integer_checked(doc jsonb, path text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
    _value numeric := (skeldir._field(doc, path, 'number') #>> '{}')::numeric;
BEGIN
    IF _value <> pg_catalog.trunc(_value) OR _value < 0 OR _value > 9223372036854775807 THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount',
            DETAIL = pg_catalog.format('%s at %s is not a non-negative integer', _value, path);
    END IF;
    RETURN _value::bigint;
END;
$$;
COMMENT ON FUNCTION skeldir._minor_integer_checked(jsonb, text) IS
    'Required non-negative integer minor-unit amount (v1.0.0 code). Raises SK422 bad_amount | bad_type.';

/** A required integer amount already in minor units (Stripe). Raises SK422. Inlined (BEGIN ATOMIC). */
CREATE OR REPLACE FUNCTION skeldir._minor_integer(doc jsonb, path text) RETURNS bigint
LANGUAGE sql STABLE BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.jsonb_typeof(doc #> pg_catalog.string_to_array(path, '.')) = 'number'
                THEN CASE WHEN (doc #> pg_catalog.string_to_array(path, '.'))::numeric >= 0  -- a number: the cast is safe
                          AND (doc #> pg_catalog.string_to_array(path, '.'))::numeric <= 9223372036854775807
                          AND pg_catalog.min_scale((doc #> pg_catalog.string_to_array(path, '.'))::numeric) = 0
                         THEN (doc #> pg_catalog.string_to_array(path, '.'))::numeric::bigint
                         ELSE skeldir._minor_integer_checked(doc, path) END
                ELSE skeldir._minor_integer_checked(doc, path) END;
END;
COMMENT ON FUNCTION skeldir._minor_integer(jsonb, text) IS
    'Required non-negative integer minor-unit amount. Raises SK422 bad_amount | bad_type.';

/**
 * The value of a query parameter in a URL or query string, percent-decoded; NULL if absent
 * or empty. The v1.0.0 skeldir._query_param: a query per call, so only for a value with an
 * escape (% or +) to decode.
 */
CREATE FUNCTION skeldir._query_param_decoded(url text, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
    -- PL/pgSQL for its cached plan (a SQL function is planned again in every subtransaction).
    RETURN (SELECT pg_catalog.convert_from(
               pg_catalog.string_agg(
                   CASE WHEN x.part[1] IS NOT NULL THEN pg_catalog.decode(pg_catalog.substr(x.part[1], 2), 'hex')
                        ELSE pg_catalog.convert_to(pg_catalog.replace(x.part[2], '+', ' '), 'UTF8') END,
                   ''::bytea ORDER BY x.ord),
               'UTF8')
      FROM pg_catalog.regexp_match(url, '(?:^|[?&])' || name || '=([^&#]*)') AS m,
           pg_catalog.regexp_matches(m[1], '(%[0-9A-Fa-f]{2})|([^%]+|%)', 'g') WITH ORDINALITY AS x (part, ord));
END;
$$;
COMMENT ON FUNCTION skeldir._query_param_decoded(text, text) IS 'Percent-decoded query parameter; NULL if absent.';

/**
 * The value of a query parameter in a URL or query string, percent-decoded; NULL if absent
 * or empty. Inlined (BEGIN ATOMIC), and without a regular expression in the usual case (one
 * costs several µs a match here): the first "<name>=" at the start or after ? or & is the
 * match the v1.0.0 pattern finds, and a value without % or + needs no decoding. Anything
 * else (an escaped value, an earlier look-alike such as "xutm_source=") goes to
 * skeldir._query_param_decoded, the v1.0.0 code. name is a plain parameter name, as the
 * mappings pass it.
 */
CREATE OR REPLACE FUNCTION skeldir._query_param(url text, name text) RETURNS text
LANGUAGE sql IMMUTABLE BEGIN ATOMIC
    SELECT CASE
        WHEN url IS NULL OR pg_catalog.strpos(url, name || '=') = 0
            THEN NULL
        WHEN pg_catalog.strpos(url, name || '=') > 1
         AND pg_catalog.substr(url, pg_catalog.strpos(url, name || '=') - 1, 1) NOT IN ('?', '&')
            THEN skeldir._query_param_decoded(url, name)
        WHEN pg_catalog.strpos(pg_catalog.split_part(pg_catalog.split_part(pg_catalog.substr(url,
                 pg_catalog.strpos(url, name || '=') + pg_catalog.length(name) + 1), '&', 1), '#', 1), '%') = 0
         AND pg_catalog.strpos(pg_catalog.split_part(pg_catalog.split_part(pg_catalog.substr(url,
                 pg_catalog.strpos(url, name || '=') + pg_catalog.length(name) + 1), '&', 1), '#', 1), '+') = 0
            THEN nullif(pg_catalog.split_part(pg_catalog.split_part(pg_catalog.substr(url,
                     pg_catalog.strpos(url, name || '=') + pg_catalog.length(name) + 1), '&', 1), '#', 1), '')
        ELSE skeldir._query_param_decoded(url, name) END;
END;
COMMENT ON FUNCTION skeldir._query_param(text, text) IS 'Percent-decoded query parameter; NULL if absent.';

/**
 * A required ISO 8601 timestamp, normalized to UTC: the v1.0.0 skeldir._timestamp, whose
 * exception block (a subtransaction per call) turns an impossible date into SK422. Called
 * by skeldir._timestamp only for a value its exact pattern does not vouch for.
 */
CREATE FUNCTION skeldir._timestamp_checked(doc jsonb, path text) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _value text := skeldir._text(doc, path);
BEGIN
    IF _value !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$' THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_type:' || path,
            DETAIL = pg_catalog.format('not an ISO 8601 timestamp: %L', pg_catalog.left(_value, 40));
    END IF;
    IF _value ~ '(Z|z|[+-]\d{2}(:?\d{2})?)$' AND _value ~ 'T|\s' THEN
        RETURN _value::timestamptz;
    END IF;
    RETURN _value::timestamp AT TIME ZONE 'UTC';
EXCEPTION
    WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_type:' || path,
            DETAIL = pg_catalog.format('not a valid timestamp: %L', pg_catalog.left(_value, 40));
END;
$$;
COMMENT ON FUNCTION skeldir._timestamp_checked(jsonb, text) IS
    'Required ISO 8601 timestamp in UTC, every form and error. Raises SK422 missing_field:<path> | bad_type:<path>.';

/**
 * A required ISO 8601 timestamp, normalized to UTC. Values with an offset or "Z" keep their
 * instant; values without one (WooCommerce's *_gmt fields) are UTC by definition, never
 * the session time zone. Inlined (BEGIN ATOMIC): a value of the usual forms whose every
 * field is in range (year 1000-9999, a day every month has, hour 00-23, at most
 * microseconds, an offset under 15 hours) is cast directly and cannot fail; anything else,
 * a 29th of February included, goes to skeldir._timestamp_checked.
 * Raises SK422 missing_field:<path> | bad_type:<path>.
 */
CREATE OR REPLACE FUNCTION skeldir._timestamp(doc jsonb, path text) RETURNS timestamptz
LANGUAGE sql STABLE BEGIN ATOMIC
    SELECT CASE
        -- The text of a JSON value that is not a string (a number, an object...) never has these shapes.
        WHEN (doc #>> pg_catalog.string_to_array(path, '.')) ~ ('^[1-9][0-9]{3}-'
                 '(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)'
                 '[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?'
                 '(?:Z|z|[+-](?:0[0-9]|1[0-4])(?::?[0-5][0-9])?)$')
            THEN (doc #>> pg_catalog.string_to_array(path, '.'))::timestamptz
        WHEN (doc #>> pg_catalog.string_to_array(path, '.')) ~ ('^[1-9][0-9]{3}-'
                 '(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)'
                 '(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?)?$')
            THEN (doc #>> pg_catalog.string_to_array(path, '.'))::timestamp AT TIME ZONE 'UTC'
        ELSE skeldir._timestamp_checked(doc, path) END;
END;
COMMENT ON FUNCTION skeldir._timestamp(jsonb, text) IS
    'Required ISO 8601 timestamp in UTC; no offset means UTC. Raises SK422.';

/**
 * A required decimal amount in major units: a JSON string ("12.30") or exact JSON number. Raises SK422.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it (every amount of
 * every delivery) and cost a GUC save and restore per call. STABLE like skeldir._ident.
 */
CREATE OR REPLACE FUNCTION skeldir._decimal(doc jsonb, path text) RETURNS text
LANGUAGE sql STABLE BEGIN ATOMIC
    -- Same extraction as an identifier (string, or exact numeric text); named for the reader.
    SELECT skeldir._ident(doc, path);
END;
COMMENT ON FUNCTION skeldir._decimal(jsonb, text) IS 'Required decimal amount (string or exact number). Raises SK422.';

COMMIT;
