-- Deploy skeldir:table_attribution_event to pg
BEGIN;

/**
 * Canonical revenue events: exactly one row per (tenant, vendor, vendor event id).
 * Amounts are integers in the currency's minor units (refunds negative); payload is the
 * vendor JSON with PII removed; customer_ref is a keyed hash of the email, never the email.
 */
CREATE TABLE skeldir.attribution_events (
    tenant_id       uuid NOT NULL REFERENCES skeldir.tenants (id),
    id              bigint GENERATED ALWAYS AS IDENTITY,
    vendor          text NOT NULL CHECK (vendor IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard')),
    topic           text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('order', 'payment', 'refund')),
    vendor_event_id text NOT NULL CHECK (length(vendor_event_id) BETWEEN 1 AND 255),
    order_ref       text,
    payment_ref     text,
    amount_minor    bigint NOT NULL CHECK ((kind = 'refund') = (amount_minor < 0) OR amount_minor = 0),
    currency        char(3) NOT NULL REFERENCES skeldir.currencies (code),
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    referrer        text,
    landing_page    text,
    customer_ref    text,
    payload         jsonb NOT NULL,
    route           text NOT NULL,
    replayed_from   bigint,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT attribution_events_dedupe UNIQUE (tenant_id, vendor, vendor_event_id)
);
COMMENT ON TABLE skeldir.attribution_events IS
    'Canonical revenue events, deduplicated on (tenant_id, vendor, vendor_event_id); PII-free.';

ALTER TABLE skeldir.attribution_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.attribution_events FORCE ROW LEVEL SECURITY;

CREATE POLICY attribution_events_belong_to_their_tenant ON skeldir.attribution_events
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
