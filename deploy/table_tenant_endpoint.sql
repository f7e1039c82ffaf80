-- Deploy skeldir:table_tenant_endpoint to pg
BEGIN;

/**
 * Per tenant and vendor, a non-secret token that routes POST /webhooks/{vendor}/{token}
 * for senders that cannot add a tenant-key header (Shopify, Stripe). A token identifies,
 * it does not authenticate: the vendor signature still has to verify.
 */
CREATE TABLE skeldir.tenant_endpoints (
    tenant_id  uuid NOT NULL REFERENCES skeldir.tenants (id) ON DELETE CASCADE,
    vendor     text NOT NULL CHECK (vendor IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard')),
    token      text NOT NULL UNIQUE CHECK (token ~ '^ep_[A-Za-z0-9]{16,64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, vendor)
);
COMMENT ON TABLE skeldir.tenant_endpoints IS 'Non-secret endpoint tokens, one per tenant and vendor.';

ALTER TABLE skeldir.tenant_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.tenant_endpoints FORCE ROW LEVEL SECURITY;

-- One permissive policy per role and action (several would each be evaluated for every row).
-- Roles that act for a tenant see and write that tenant's rows only.
CREATE POLICY tenant_endpoints_are_visible_to_their_tenant ON skeldir.tenant_endpoints
    TO app_rw, app_ro
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

-- Routing a delivery happens before any tenant is known, inside the owner's definer
-- functions only (app roles hold no privilege on this table): the owner reads every token,
-- and writes only under the transaction's tenant, as api.tenant_create does.
CREATE POLICY tenant_endpoints_are_resolved_by_their_owner ON skeldir.tenant_endpoints
    TO migration_owner
    USING (true)
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
