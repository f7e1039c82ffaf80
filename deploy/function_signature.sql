-- Deploy skeldir:function_signature to pg
BEGIN;

/**
 * Constant-time equality: compares HMACs of both inputs under a fresh random key, so
 * the time taken does not depend on how many leading bytes of a signature were right.
 */
CREATE FUNCTION skeldir._secure_equal(a bytea, b bytea) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT extensions.hmac(a, r.k, 'sha256') = extensions.hmac(b, r.k, 'sha256')
      FROM (SELECT extensions.gen_random_bytes(32) AS k) AS r
$$;
COMMENT ON FUNCTION skeldir._secure_equal(bytea, bytea) IS 'Constant-time comparison (double HMAC).';

/**
 * Stripe-Signature: "t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]". Valid when t is within
 * tolerance of now and any v1 equals hex(HMAC-SHA256(secret, t || '.' || body)) for any
 * of the given secrets (the whole whsec_... string is the key). v0 is ignored.
 */
CREATE FUNCTION skeldir._stripe_signature_valid(header text, body bytea, secrets text[], tolerance interval)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _t       text;
    _v1      text[];
    _secret  text;
    _signed  bytea;
BEGIN
    SELECT pg_catalog.max(pg_catalog.substr(p, 3)) FILTER (WHERE p LIKE 't=%'),
           pg_catalog.array_agg(pg_catalog.substr(p, 4)) FILTER (WHERE p LIKE 'v1=%')
      INTO _t, _v1
      FROM pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.replace(header, ' ', ''), ',')) AS p;
    IF _t IS NULL OR _t !~ '^[0-9]{1,12}$' OR _v1 IS NULL OR secrets IS NULL THEN
        RETURN false;
    END IF;
    IF abs(extract(epoch FROM pg_catalog.now()) - _t::bigint) > extract(epoch FROM tolerance) THEN
        RETURN false;
    END IF;
    _signed := pg_catalog.convert_to(_t || '.', 'UTF8') || body;
    FOREACH _secret IN ARRAY secrets LOOP
        IF EXISTS (
            SELECT FROM pg_catalog.unnest(_v1) AS v
             WHERE skeldir._secure_equal(
                       pg_catalog.convert_to(pg_catalog.lower(v), 'UTF8'),
                       pg_catalog.convert_to(pg_catalog.encode(
                           extensions.hmac(_signed, pg_catalog.convert_to(_secret, 'UTF8'), 'sha256'), 'hex'), 'UTF8'))
        ) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END;
$$;
COMMENT ON FUNCTION skeldir._stripe_signature_valid(text, bytea, text[], interval) IS
    'Verifies a Stripe-Signature header against any of the given secrets.';

COMMIT;
