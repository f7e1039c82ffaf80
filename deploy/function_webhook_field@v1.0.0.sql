-- Deploy skeldir:function_webhook_field to pg
BEGIN;

/**
 * One revenue fact a vendor delivery carries (SPEC §5 step 4). A mapping returns an array
 * of them: every element with supported = true is a fact; an element with supported =
 * false only names the topic of a delivery that carries none (200 ignored).
 * fact_key is the vendor's business identity of the fact ('payment:pi_1', 'refund:re_9',
 * 'order:1001'); vendor_event_id the delivery's own id. cumulative_minor, when set, makes
 * a refund a level of a cumulative total (Stripe's charge.refunded amount_refunded): the
 * ingest path then records only the part of it not yet recorded for the same payment_ref.
 * customer_email is hashed before anything is stored and never persisted.
 */
CREATE TYPE skeldir.webhook_event AS (
    supported       boolean,
    topic           text,
    kind            text,
    vendor_event_id text,
    order_ref       text,
    payment_ref     text,
    amount_minor    bigint,
    currency        text,
    occurred_at     timestamptz,
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    referrer        text,
    landing_page    text,
    customer_email  text,
    fact_key        text,
    cumulative_minor bigint
);
COMMENT ON TYPE skeldir.webhook_event IS 'One revenue fact of a vendor delivery, keyed by the vendor''s business identity.';

/**
 * The JSON value at a dotted path, required and of the given jsonb type.
 * Raises SK422 with the dead-letter reason: missing_field:<path> or bad_type:<path>.
 */
CREATE FUNCTION skeldir._field(doc jsonb, path text, want text) RETURNS jsonb
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
COMMENT ON FUNCTION skeldir._field(jsonb, text, text) IS
    'Required typed field. Raises SK422 missing_field:<path> | bad_type:<path>.';

/** A required non-empty string field. Raises SK422 like skeldir._field. */
CREATE FUNCTION skeldir._text(doc jsonb, path text) RETURNS text
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
COMMENT ON FUNCTION skeldir._text(jsonb, text) IS 'Required non-empty string. Raises SK422.';

/**
 * A required identifier that vendors send as a JSON string or number (Shopify order ids
 * exceed 2^53: jsonb keeps numbers as exact numerics, so the digits survive intact).
 */
CREATE FUNCTION skeldir._ident(doc jsonb, path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
    _value jsonb := doc #> pg_catalog.string_to_array(path, '.');
BEGIN
    IF pg_catalog.jsonb_typeof(_value) = 'number' THEN
        RETURN _value #>> '{}';
    END IF;
    RETURN skeldir._text(doc, path);
END;
$$;
COMMENT ON FUNCTION skeldir._ident(jsonb, text) IS 'Required id, string or exact number. Raises SK422.';

/**
 * An optional identifier: NULL when absent or JSON null, the text of a string or exact
 * number otherwise. Anything else (an object, an array, a boolean) is not an identifier:
 * SK422 bad_type:<path>, so a hostile document cannot smuggle a huge array in as a reference.
 */
CREATE FUNCTION skeldir._optional_ident(doc jsonb, path text) RETURNS text
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
COMMENT ON FUNCTION skeldir._optional_ident(jsonb, text) IS 'Optional id, string or exact number, else NULL. Raises SK422 bad_type.';

/** A known ISO 4217 code, upper-cased. Raises SK422 bad_currency. */
CREATE FUNCTION skeldir._currency(code text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _code text := pg_catalog.upper(pg_catalog.btrim(code));
BEGIN
    -- bpchar, not text: compared as text, code could not use the primary key index.
    IF NOT EXISTS (SELECT FROM skeldir.currencies AS c WHERE c.code = _code::bpchar) THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_currency',
            DETAIL = pg_catalog.format('unknown currency %L', code);
    END IF;
    RETURN _code;
END;
$$;
COMMENT ON FUNCTION skeldir._currency(text) IS 'Validates an ISO 4217 code. Raises SK422 bad_currency.';

/**
 * Major units (a decimal string or JSON number, never a float) to integer minor units,
 * exactly: amount * 10^exponent must be a whole number that fits in bigint.
 * Raises SK422 bad_amount otherwise.
 */
CREATE FUNCTION skeldir._minor_units(amount text, currency text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _scaled numeric;
    _code   text;
BEGIN
    IF amount IS NULL OR pg_catalog.btrim(amount) !~ '^-?[0-9]+(\.[0-9]+)?$' THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount',
            DETAIL = pg_catalog.format('not a decimal amount: %L', pg_catalog.left(amount, 40));
    END IF;
    _code := skeldir._currency(currency);
    SELECT pg_catalog.btrim(amount)::numeric * (10::numeric ^ c.exponent)
      INTO _scaled
      FROM skeldir.currencies AS c
     WHERE c.code = _code::bpchar;
    IF _scaled <> pg_catalog.trunc(_scaled) OR pg_catalog.abs(_scaled) > 9223372036854775807 THEN
        RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'bad_amount',
            DETAIL = pg_catalog.format('%s is not a whole number of %s minor units', amount, currency);
    END IF;
    RETURN _scaled::bigint;
END;
$$;
COMMENT ON FUNCTION skeldir._minor_units(text, text) IS
    'Exact major-to-minor conversion per ISO 4217 exponent. Raises SK422 bad_amount | bad_currency.';

/** A required integer amount already in minor units (Stripe). Raises SK422. */
CREATE FUNCTION skeldir._minor_integer(doc jsonb, path text) RETURNS bigint
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
COMMENT ON FUNCTION skeldir._minor_integer(jsonb, text) IS
    'Required non-negative integer minor-unit amount. Raises SK422 bad_amount | bad_type.';

/** The value of a query parameter in a URL or query string, percent-decoded; NULL if absent. */
CREATE FUNCTION skeldir._query_param(url text, name text) RETURNS text
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
COMMENT ON FUNCTION skeldir._query_param(text, text) IS 'Percent-decoded query parameter; NULL if absent.';

/**
 * A required ISO 8601 timestamp, normalized to UTC. Values with an offset or "Z" keep their
 * instant; values without one (WooCommerce's *_gmt fields) are UTC by definition, never
 * the session time zone. Raises SK422 missing_field:<path> | bad_type:<path>.
 */
CREATE FUNCTION skeldir._timestamp(doc jsonb, path text) RETURNS timestamptz
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
COMMENT ON FUNCTION skeldir._timestamp(jsonb, text) IS
    'Required ISO 8601 timestamp in UTC; no offset means UTC. Raises SK422.';

/**
 * A required decimal amount in major units: a JSON string ("12.30") or exact JSON number. Raises SK422.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it (every amount of
 * every delivery) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir._decimal(doc jsonb, path text) RETURNS text
LANGUAGE sql IMMUTABLE BEGIN ATOMIC
    -- Same extraction as an identifier (string, or exact numeric text); named for the reader.
    SELECT skeldir._ident(doc, path);
END;
COMMENT ON FUNCTION skeldir._decimal(jsonb, text) IS 'Required decimal amount (string or exact number). Raises SK422.';

COMMIT;
