-- Deploy skeldir:function_tenant_admin to pg
BEGIN;

/**
 * Creates a tenant with an API key, an endpoint token per vendor and a webhook secret per
 * vendor that signs with a shared secret (PayPal instead pins a certificate, set later).
 * The API key is returned once and only its sha256 is stored.
 * Operator-only: runs as the caller (migration_owner); no runtime role may execute it.
 * Raises 22023 for an empty name.
 */
CREATE FUNCTION api.tenant_create(
    name text,
    OUT tenant_id uuid, OUT slug text, OUT api_key text, OUT endpoint_tokens jsonb, OUT secrets jsonb)
LANGUAGE plpgsql VOLATILE AS $$
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
        SELECT tenant_create.tenant_id, v.vendor, v.secret
          FROM (VALUES
                ('stripe', 'whsec_' || pg_catalog.encode(extensions.gen_random_bytes(24), 'hex')),
                ('shopify', pg_catalog.encode(extensions.gen_random_bytes(32), 'hex')),
                ('woocommerce', pg_catalog.encode(extensions.gen_random_bytes(24), 'hex')),
                ('standard', 'whsec_' || pg_catalog.encode(extensions.gen_random_bytes(24), 'base64')),
                ('paypal', NULL)
          ) AS v (vendor, secret)
        RETURNING vendor, secret
    )
    SELECT pg_catalog.jsonb_object_agg(c.vendor, c.secret) FILTER (WHERE c.secret IS NOT NULL)
      INTO secrets FROM created AS c;
END;
$$;
COMMENT ON FUNCTION api.tenant_create(text) IS
    'Operator: create a tenant; returns its API key (shown once), endpoint tokens and secrets. Raises 22023.';

COMMIT;
