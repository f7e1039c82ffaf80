-- Deploy skeldir:table_tenant_secret to pg
BEGIN;

/**
 * Per tenant and vendor webhook secrets. Rotation keeps the previous secret valid until
 * previous_expires_at. PayPal has no shared secret: for it, secret (and previous_secret)
 * hold the pinned PEM signing certificate, and paypal_webhook_id the tenant's own PayPal
 * webhook subscription id (part of the signed string). Only definer functions read this table.
 */
CREATE TABLE skeldir.tenant_secrets (
    tenant_id           uuid NOT NULL REFERENCES skeldir.tenants (id) ON DELETE CASCADE,
    vendor              text NOT NULL CHECK (vendor IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard')),
    secret              text,
    previous_secret     text,
    previous_expires_at timestamptz,
    paypal_webhook_id   text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, vendor),
    CHECK ((previous_secret IS NULL) = (previous_expires_at IS NULL))
);
COMMENT ON TABLE skeldir.tenant_secrets IS 'Webhook secrets (current, previous until expiry); never readable by app roles.';

ALTER TABLE skeldir.tenant_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.tenant_secrets FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_secrets_belong_to_their_tenant ON skeldir.tenant_secrets
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
