-- Deploy skeldir:function_signature to pg
BEGIN;

/**
 * Constant-time equality: compares HMACs of both inputs under a fresh random key, so
 * the time taken does not depend on how many leading bytes of a signature were right.
 * PL/pgSQL, not SQL, on the ingest path: a SQL function called inside a subtransaction
 * (every delivery of a group-commit batch runs in one) is parsed and planned again on
 * every call, PL/pgSQL keeps its plans for the session.
 */
CREATE FUNCTION skeldir._secure_equal(a bytea, b bytea) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _k bytea := extensions.gen_random_bytes(32);
BEGIN
    RETURN extensions.hmac(a, _k, 'sha256') = extensions.hmac(b, _k, 'sha256');
END;
$$;
COMMENT ON FUNCTION skeldir._secure_equal(bytea, bytea) IS 'Constant-time comparison (double HMAC).';

/**
 * A delivery header by its lower-cased name, also found without the "x-" prefix
 * (Shopify sends both spellings: X-Shopify-Topic and Shopify-Topic). NULL when absent.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it (called several
 * times per delivery) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir._header(headers jsonb, name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE BEGIN ATOMIC
    SELECT nullif(pg_catalog.btrim(coalesce(headers ->> ('x-' || name), headers ->> name)), '');
END;
COMMENT ON FUNCTION skeldir._header(jsonb, text) IS 'Header value by name, with or without the x- prefix; NULL if absent.';

/**
 * Stripe-Signature: "t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]". Valid when t is within
 * tolerance of now and any v1 equals hex(HMAC-SHA256(secret, t || '.' || body)) for any
 * of the given secrets (the whole whsec_... string is the key). v0 is ignored.
 */
CREATE FUNCTION skeldir._stripe_signature_valid(header text, body bytea, secrets text[], tolerance interval)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _part     text;
    _t        text;
    _v1       text[] := '{}';
    _v        text;
    _secret   text;
    _signed   bytea;
    _expected bytea;
BEGIN
    IF header IS NULL OR secrets IS NULL THEN
        RETURN false;
    END IF;
    -- Plain assignments, no queries: this runs once per Stripe delivery.
    FOREACH _part IN ARRAY pg_catalog.string_to_array(pg_catalog.replace(header, ' ', ''), ',') LOOP
        IF _part LIKE 't=%' THEN
            _t := greatest(_t, pg_catalog.substr(_part, 3));
        ELSIF _part LIKE 'v1=%' THEN
            _v1 := _v1 || pg_catalog.substr(_part, 4);
        END IF;
    END LOOP;
    IF _t IS NULL OR _t !~ '^[0-9]{1,12}$' OR pg_catalog.cardinality(_v1) = 0 THEN
        RETURN false;
    END IF;
    IF abs(extract(epoch FROM pg_catalog.now()) - _t::bigint) > extract(epoch FROM tolerance) THEN
        RETURN false;
    END IF;
    _signed := pg_catalog.convert_to(_t || '.', 'UTF8') || body;
    FOREACH _secret IN ARRAY secrets LOOP
        _expected := pg_catalog.convert_to(pg_catalog.encode(
            extensions.hmac(_signed, pg_catalog.convert_to(_secret, 'UTF8'), 'sha256'), 'hex'), 'UTF8');
        FOREACH _v IN ARRAY _v1 LOOP
            IF skeldir._secure_equal(pg_catalog.convert_to(pg_catalog.lower(_v), 'UTF8'), _expected) THEN
                RETURN true;
            END IF;
        END LOOP;
    END LOOP;
    RETURN false;
END;
$$;
COMMENT ON FUNCTION skeldir._stripe_signature_valid(text, bytea, text[], interval) IS
    'Verifies a Stripe-Signature header against any of the given secrets.';

/**
 * Shopify (X-Shopify-Hmac-Sha256) and WooCommerce (X-WC-Webhook-Signature): the header is
 * base64(HMAC-SHA256(key, raw body)). Valid when it matches for any of the given keys
 * (UTF-8 bytes of each secret). No timestamp is signed by either vendor.
 */
CREATE FUNCTION skeldir._hmac_base64_valid(signature text, body bytea, secrets text[]) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _given  bytea := pg_catalog.convert_to(pg_catalog.btrim(signature), 'UTF8');
    _secret text;
BEGIN
    IF signature IS NULL OR secrets IS NULL THEN
        RETURN false;
    END IF;
    FOREACH _secret IN ARRAY secrets LOOP
        CONTINUE WHEN _secret IS NULL;
        IF skeldir._secure_equal(_given, pg_catalog.convert_to(pg_catalog.encode(
               extensions.hmac(body, pg_catalog.convert_to(_secret, 'UTF8'), 'sha256'), 'base64'), 'UTF8')) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END;
$$;
COMMENT ON FUNCTION skeldir._hmac_base64_valid(text, bytea, text[]) IS
    'base64 HMAC-SHA256 of the raw body under any of the secrets (Shopify, WooCommerce).';

/**
 * HTML entities decoded the way WordPress' wp_specialchars_decode(ENT_QUOTES) does before
 * WooCommerce signs: &amp; &lt; &gt; &quot; &#039; and numeric &#NN; / &#xHH; references.
 * A secret typed as "a&b" is stored by WooCommerce as "a&amp;b" and signed with "a&b".
 */
CREATE FUNCTION skeldir._html_entity_decode(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
DECLARE
    _m   text[];
    _cp  integer;
    _out text := value;
BEGIN
    FOR _m IN SELECT pg_catalog.regexp_matches(value, '&#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});', 'g') LOOP
        _cp := CASE WHEN _m[1] LIKE 'x%' THEN ('x' || pg_catalog.lpad(pg_catalog.substr(_m[1], 2), 8, '0'))::bit(32)::integer
                    ELSE _m[1]::integer END;
        -- NUL, surrogates and beyond Unicode cannot be characters: left as written.
        CONTINUE WHEN _cp < 1 OR _cp > 1114111 OR _cp BETWEEN 55296 AND 57343;
        _out := pg_catalog.replace(_out, '&#' || _m[1] || ';', pg_catalog.chr(_cp));
    END LOOP;
    RETURN pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
               _out, '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&amp;', '&');
END;
$$;
COMMENT ON FUNCTION skeldir._html_entity_decode(text) IS 'wp_specialchars_decode(ENT_QUOTES) for WooCommerce secrets.';

/**
 * Standard Webhooks v1: webhook-signature is a space-separated list of "v1,<base64>";
 * each is base64(HMAC-SHA256(key, webhook-id "." webhook-timestamp "." body)) where key
 * is the base64-decoded secret after its "whsec_" prefix. The timestamp must be within
 * tolerance of now (the spec says 5 minutes either way). Other versions are ignored.
 */
CREATE FUNCTION skeldir._standard_signature_valid(headers jsonb, body bytea, secrets text[], tolerance interval)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _id     text := headers ->> 'webhook-id';
    _ts     text := headers ->> 'webhook-timestamp';
    _sigs   text[];
    _signed bytea;
    _key    bytea;
    _secret text;
BEGIN
    IF _id IS NULL OR _ts IS NULL OR _ts !~ '^[0-9]{1,12}$' OR secrets IS NULL THEN
        RETURN false;
    END IF;
    IF abs(extract(epoch FROM pg_catalog.now()) - _ts::bigint) > extract(epoch FROM tolerance) THEN
        RETURN false;
    END IF;
    SELECT pg_catalog.array_agg(pg_catalog.substr(p, 4)) FILTER (WHERE p LIKE 'v1,%')
      INTO _sigs
      FROM pg_catalog.unnest(pg_catalog.string_to_array(headers ->> 'webhook-signature', ' ')) AS p;
    IF _sigs IS NULL THEN
        RETURN false;
    END IF;
    _signed := pg_catalog.convert_to(_id || '.' || _ts || '.', 'UTF8') || body;
    FOREACH _secret IN ARRAY secrets LOOP
        BEGIN
            _key := pg_catalog.decode(pg_catalog.regexp_replace(_secret, '^whsec_', ''), 'base64');
        EXCEPTION WHEN invalid_parameter_value THEN
            CONTINUE;  -- a secret that is not base64 can verify nothing
        END;
        IF EXISTS (
            SELECT FROM pg_catalog.unnest(_sigs) AS s
             WHERE skeldir._secure_equal(pg_catalog.convert_to(s, 'UTF8'), pg_catalog.convert_to(
                       pg_catalog.encode(extensions.hmac(_signed, _key, 'sha256'), 'base64'), 'UTF8'))
        ) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END;
$$;
COMMENT ON FUNCTION skeldir._standard_signature_valid(jsonb, bytea, text[], interval) IS
    'Verifies Standard Webhooks v1 signatures (webhook-id, webhook-timestamp, webhook-signature).';

/**
 * PayPal signs with RSA-SHA256 over "transmission_id|transmission_time|webhook_id|crc32(body)",
 * which pgcrypto cannot verify. SPEC §5 lets the shell do the RSA check: it fetches the
 * tenant's pinned certificates and webhook id (api.webhook_paypal_keys), verifies with
 * `cryptography`, and only then adds the header
 *     x-skeldir-paypal-verification: v1,<sha256 hex of the certificate PEM>,<sha256 hex of the body>
 * (it drops any such header a client sent). Here the database checks everything it can:
 * the attested certificate is one of this tenant's valid ones, the attested body is the
 * stored body byte for byte (a tampered body cannot reuse an attestation), the algorithm
 * is SHA256withRSA, a webhook id is configured, and the transmission time is an ISO 8601
 * instant within tolerance (anything else, 'infinity' included, fails like a bad signature). Trade-off: for PayPal, the RSA step is trusted to the app_user shell process.
 */
CREATE FUNCTION skeldir._paypal_attestation_valid(
    headers jsonb, body bytea, certificates text[], webhook_id text, tolerance interval) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _parts text[] := pg_catalog.string_to_array(headers ->> 'x-skeldir-paypal-verification', ',');
    _time  timestamptz;
BEGIN
    IF _parts IS NULL OR pg_catalog.cardinality(_parts) <> 3 OR _parts[1] <> 'v1'
       OR webhook_id IS NULL OR certificates IS NULL
       OR pg_catalog.upper(headers ->> 'paypal-auth-algo') IS DISTINCT FROM 'SHA256WITHRSA'
       OR coalesce(headers ->> 'paypal-transmission-id', '') = '' THEN
        RETURN false;
    END IF;
    -- PayPal sends an ISO 8601 instant. Anything else is an invalid timestamp, a signature
    -- failure (401), never an error: 'infinity' would overflow now() - _time (22008), and
    -- 'now' or 'today' would be fresh forever (a signed message replayable at will).
    IF (headers ->> 'paypal-transmission-time') !~
           '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN
        RETURN false;
    END IF;
    BEGIN
        _time := (headers ->> 'paypal-transmission-time')::timestamptz;
    EXCEPTION WHEN data_exception THEN  -- well-formed but impossible (month 13, year 99999)
        RETURN false;
    END;
    IF _time IS NULL OR NOT pg_catalog.isfinite(_time)
       OR abs(extract(epoch FROM pg_catalog.now() - _time)) > extract(epoch FROM tolerance) THEN
        RETURN false;
    END IF;
    RETURN skeldir._secure_equal(pg_catalog.convert_to(pg_catalog.lower(_parts[3]), 'UTF8'),
                                 pg_catalog.convert_to(pg_catalog.encode(pg_catalog.sha256(body), 'hex'), 'UTF8'))
       AND EXISTS (SELECT FROM pg_catalog.unnest(certificates) AS c
                    WHERE skeldir._secure_equal(
                              pg_catalog.convert_to(pg_catalog.lower(_parts[2]), 'UTF8'),
                              pg_catalog.convert_to(pg_catalog.encode(
                                  pg_catalog.sha256(pg_catalog.convert_to(c, 'UTF8')), 'hex'), 'UTF8')));
END;
$$;
COMMENT ON FUNCTION skeldir._paypal_attestation_valid(jsonb, bytea, text[], text, interval) IS
    'Checks the shell''s PayPal RSA attestation against the pinned certificates and the raw body.';

COMMIT;
