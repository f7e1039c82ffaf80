-- Deploy skeldir:function_tenant_admin to pg
BEGIN;

/**
 * A fresh webhook secret in the vendor's own format: Stripe "whsec_" + hex (the whole
 * string is the HMAC key), Standard Webhooks "whsec_" + base64 of 24 random bytes,
 * Shopify and WooCommerce plain hex. PayPal has none (it pins a certificate): NULL.
 */
CREATE FUNCTION skeldir._secret_generate(vendor text) RETURNS text
LANGUAGE sql VOLATILE SET search_path = '' AS $$
    SELECT CASE vendor
        WHEN 'stripe' THEN 'whsec_' || pg_catalog.encode(extensions.gen_random_bytes(24), 'hex')
        WHEN 'shopify' THEN pg_catalog.encode(extensions.gen_random_bytes(32), 'hex')
        WHEN 'woocommerce' THEN pg_catalog.encode(extensions.gen_random_bytes(24), 'hex')
        WHEN 'standard' THEN 'whsec_' || pg_catalog.encode(extensions.gen_random_bytes(24), 'base64')
    END
$$;
COMMENT ON FUNCTION skeldir._secret_generate(text) IS 'A new random secret in the vendor''s format; NULL for paypal.';

/**
 * Creates a tenant with an API key, an endpoint token per vendor and a webhook secret per
 * vendor that signs with a shared secret (PayPal instead pins a certificate, set later
 * with api.tenant_secret_set). The API key is returned once and only its sha256 is stored.
 * Operator-only: runs as the caller (migration_owner); no runtime role may execute it.
 * Raises 22023 for an empty name.
 */
CREATE FUNCTION api.tenant_create(
    name text,
    OUT tenant_id uuid, OUT slug text, OUT api_key text, OUT endpoint_tokens jsonb, OUT secrets jsonb)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    IF coalesce(pg_catalog.btrim(tenant_create.name), '') = '' THEN
        RAISE EXCEPTION 'tenant name must not be empty' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass a display name, for example: skeldir tenant create "Acme Store".';
    END IF;
    api_key := 'skd_' || pg_catalog.encode(extensions.gen_random_bytes(24), 'hex');
    slug := pg_catalog.left(pg_catalog.btrim(pg_catalog.regexp_replace(
                pg_catalog.lower(tenant_create.name), '[^a-z0-9]+', '-', 'g'), '-'), 48);
    slug := CASE WHEN slug = '' THEN 'tenant' ELSE slug END
            || '-' || pg_catalog.encode(extensions.gen_random_bytes(3), 'hex');

    INSERT INTO skeldir.tenants (slug, name, api_key_hash)
    VALUES (tenant_create.slug, pg_catalog.btrim(tenant_create.name),
            pg_catalog.sha256(pg_catalog.convert_to(api_key, 'UTF8')))
    RETURNING id INTO tenant_id;
    PERFORM pg_catalog.set_config('app.current_tenant_id', tenant_id::text, true);

    WITH created AS (
        INSERT INTO skeldir.tenant_endpoints (tenant_id, vendor, token)
        SELECT tenant_create.tenant_id, v.vendor, 'ep_' || pg_catalog.encode(extensions.gen_random_bytes(16), 'hex')
          FROM pg_catalog.unnest('{stripe,shopify,woocommerce,paypal,standard}'::text[]) AS v (vendor)
        RETURNING vendor, token
    )
    SELECT pg_catalog.jsonb_object_agg(c.vendor, c.token) INTO endpoint_tokens FROM created AS c;

    WITH created AS (
        INSERT INTO skeldir.tenant_secrets (tenant_id, vendor, secret)
        SELECT tenant_create.tenant_id, v.vendor, skeldir._secret_generate(v.vendor)
          FROM pg_catalog.unnest('{stripe,shopify,woocommerce,paypal,standard}'::text[]) AS v (vendor)
        RETURNING vendor, secret
    )
    SELECT pg_catalog.jsonb_object_agg(c.vendor, c.secret) FILTER (WHERE c.secret IS NOT NULL)
      INTO secrets FROM created AS c;
END;
$$;
COMMENT ON FUNCTION api.tenant_create(text) IS
    'Operator: create a tenant; returns its API key (shown once), endpoint tokens and secrets. Raises 22023.';

/**
 * The tenant named by its id or slug, scoped for the rest of the transaction (tenant GUC),
 * so the operator functions below pass the forced RLS of the secret tables.
 * Raises SK404 when there is no such tenant.
 */
CREATE FUNCTION skeldir._tenant_lookup(tenant text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _id   uuid;
    _uuid uuid;
BEGIN
    IF tenant ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' THEN
        _uuid := tenant::uuid;  -- only cast what is a uuid: SQL does not short-circuit OR
    END IF;
    SELECT t.id INTO _id
      FROM skeldir.tenants AS t
     WHERE t.slug = _tenant_lookup.tenant OR t.id = _uuid;
    IF _id IS NULL THEN
        RAISE EXCEPTION 'no tenant %', coalesce(tenant, '(null)') USING ERRCODE = 'SK404',
            HINT = 'Pass the tenant id or slug printed by skeldir tenant create.';
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', _id::text, true);
    RETURN _id;
END;
$$;
COMMENT ON FUNCTION skeldir._tenant_lookup(text) IS 'Tenant by id or slug, set as the transaction''s tenant. Raises SK404.';

/**
 * A secret as the vendor will use it, or an error that says what is wrong with it:
 * Stripe and Standard Webhooks secrets start with whsec_ (Standard: base64 after it, at
 * least 16 bytes); Shopify and WooCommerce secrets are 8-500 printable characters; PayPal
 * takes a PEM certificate. Raises 22023 (invalid_parameter_value) or SK404 (vendor).
 */
CREATE FUNCTION skeldir._secret_check(vendor text, secret text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
    _secret text := pg_catalog.btrim(secret, E' \t\r\n');
    _key    bytea;
BEGIN
    IF vendor IS NULL OR vendor NOT IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard') THEN
        RAISE EXCEPTION 'unknown vendor %', coalesce(vendor, '(null)') USING ERRCODE = 'SK404',
            HINT = 'Vendors: stripe, shopify, woocommerce, paypal, standard.';
    END IF;
    IF coalesce(_secret, '') = '' THEN
        RAISE EXCEPTION 'no % secret given', vendor USING ERRCODE = 'invalid_parameter_value',
            HINT = CASE WHEN vendor = 'paypal' THEN 'PayPal takes the pinned PEM certificate: --secret-file cert.pem.'
                        ELSE 'Pass a secret or omit it to have one generated.' END;
    END IF;
    CASE vendor
    WHEN 'stripe' THEN
        IF _secret !~ '^whsec_[A-Za-z0-9+/=_-]{8,200}$' THEN
            RAISE EXCEPTION 'not a Stripe signing secret' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Copy the endpoint''s signing secret (whsec_...) from the Stripe dashboard.';
        END IF;
    WHEN 'standard' THEN
        BEGIN
            _key := pg_catalog.decode(pg_catalog.regexp_replace(_secret, '^whsec_', ''), 'base64');
        EXCEPTION WHEN invalid_parameter_value THEN
            _key := NULL;
        END;
        IF _secret !~ '^whsec_' OR _key IS NULL OR pg_catalog.length(_key) < 16 THEN
            RAISE EXCEPTION 'not a Standard Webhooks secret' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = 'expected whsec_ followed by base64 of at least 16 bytes',
                HINT = 'Omit the secret to have one generated.';
        END IF;
    WHEN 'paypal' THEN
        IF _secret !~ '^-----BEGIN CERTIFICATE-----\s.*\s-----END CERTIFICATE-----$' THEN
            RAISE EXCEPTION 'not a PEM certificate' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Pass the PayPal webhook signing certificate (PEM) you pinned for this tenant.';
        END IF;
    ELSE
        IF coalesce(pg_catalog.length(_secret), 0) NOT BETWEEN 8 AND 500 OR _secret ~ '[^[:print:]]' THEN
            RAISE EXCEPTION 'not a usable % secret', vendor USING ERRCODE = 'invalid_parameter_value',
                DETAIL = 'expected 8 to 500 printable characters';
        END IF;
    END CASE;
    RETURN _secret;
END;
$$;
COMMENT ON FUNCTION skeldir._secret_check(text, text) IS 'Validates a vendor secret. Raises 22023 | SK404.';

/**
 * Operator: replace a tenant's secret for one vendor now (the previous one stops working
 * at once; use api.tenant_secret_rotate for a seamless roll). secret NULL generates one
 * (not for PayPal, which takes its pinned PEM certificate and its webhook id).
 * Returns the secret in effect. Raises SK404 (tenant, vendor), 22023 (bad secret).
 */
CREATE FUNCTION api.tenant_secret_set(
    tenant text, vendor text, secret text DEFAULT NULL, paypal_webhook_id text DEFAULT NULL,
    OUT tenant_id uuid, OUT secret_in_effect text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    tenant_id := skeldir._tenant_lookup(tenant);
    secret_in_effect := skeldir._secret_check(vendor, coalesce(secret, skeldir._secret_generate(vendor)));
    IF vendor = 'paypal' AND coalesce(pg_catalog.btrim(paypal_webhook_id), '') = ''
       AND NOT EXISTS (SELECT FROM skeldir.tenant_secrets AS s
                        WHERE s.tenant_id = tenant_secret_set.tenant_id AND s.vendor = 'paypal'
                          AND s.paypal_webhook_id IS NOT NULL) THEN
        RAISE EXCEPTION 'PayPal needs the webhook id' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass --webhook-id: the id of the tenant''s PayPal webhook subscription.';
    END IF;
    INSERT INTO skeldir.tenant_secrets AS s (tenant_id, vendor, secret, paypal_webhook_id)
    VALUES (tenant_secret_set.tenant_id, tenant_secret_set.vendor, secret_in_effect,
            nullif(pg_catalog.btrim(tenant_secret_set.paypal_webhook_id), ''))
    ON CONFLICT ON CONSTRAINT tenant_secrets_pkey DO UPDATE
       SET secret = excluded.secret, previous_secret = NULL, previous_expires_at = NULL,
           paypal_webhook_id = coalesce(excluded.paypal_webhook_id, s.paypal_webhook_id),
           updated_at = pg_catalog.now();
END;
$$;
COMMENT ON FUNCTION api.tenant_secret_set(text, text, text, text) IS
    'Operator: set (or generate) a tenant''s vendor secret; PayPal: certificate + webhook id. Raises SK404, 22023.';

/**
 * Operator: roll a tenant's secret for one vendor. The new secret (given, or generated)
 * is valid at once; the one it replaces keeps verifying until now() + rotation_window
 * (default: skeldir.settings.secret_rotation_window), then stops. Rotating again inside
 * the window replaces the older previous secret. Returns the new secret and the moment
 * the previous one expires. Raises SK404 (tenant, vendor), 22023 (bad secret or window,
 * nothing to rotate).
 */
CREATE FUNCTION api.tenant_secret_rotate(
    tenant text, vendor text, secret text DEFAULT NULL, rotation_window interval DEFAULT NULL,
    OUT tenant_id uuid, OUT secret_in_effect text, OUT previous_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    tenant_id := skeldir._tenant_lookup(tenant);
    secret_in_effect := skeldir._secret_check(vendor, coalesce(secret, skeldir._secret_generate(vendor)));
    IF rotation_window < interval '0' THEN
        RAISE EXCEPTION 'rotation window must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE skeldir.tenant_secrets AS s
       SET previous_secret = s.secret,
           previous_expires_at = pg_catalog.now()
               + coalesce(rotation_window, (SELECT st.secret_rotation_window FROM skeldir.settings AS st)),
           secret = secret_in_effect,
           updated_at = pg_catalog.now()
     WHERE s.tenant_id = tenant_secret_rotate.tenant_id AND s.vendor = tenant_secret_rotate.vendor
       AND s.secret IS NOT NULL
    RETURNING s.previous_expires_at INTO previous_expires_at;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant has no % secret to rotate', vendor USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Set one first: skeldir tenant set-secret TENANT VENDOR.';
    END IF;
END;
$$;
COMMENT ON FUNCTION api.tenant_secret_rotate(text, text, text, interval) IS
    'Operator: roll a vendor secret; the previous one works until the window ends. Raises SK404, 22023.';

COMMIT;
