-- Deploy skeldir:table_attribution_event to pg
BEGIN;

/**
 * The revenue ledger: one row per revenue fact (an order, a payment, a refund), exactly
 * once per (tenant, vendor, fact_key). fact_key is the vendor's business identity of the
 * fact (SPEC §5: 'payment:pi_1', 'order:1001', 'refund:re_9', ...), not the identity of the
 * delivery that carried it, because vendors send state: several event types describe one
 * payment, an order document lists all its refunds, a redelivery repeats them all.
 * vendor_event_id is the delivery that first recorded the fact (evt_, webhook id, WH- id),
 * kept for tracing. Amounts are integers in the currency's minor units (refunds
 * negative); payload is the vendor's projection (the fields its mapping reads, no PII:
 * skeldir._project_<vendor>); customer_ref is a keyed hash of
 * the email, never the email.
 */
CREATE TABLE skeldir.attribution_events (
    tenant_id       uuid NOT NULL REFERENCES skeldir.tenants (id),
    id              bigint GENERATED ALWAYS AS IDENTITY,
    vendor          text NOT NULL CHECK (vendor IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard')),
    topic           text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('order', 'payment', 'refund')),
    vendor_event_id text NOT NULL CHECK (length(vendor_event_id) BETWEEN 1 AND 255),
    fact_key        text NOT NULL CHECK (length(fact_key) BETWEEN 1 AND 255),
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
    CONSTRAINT attribution_events_dedupe UNIQUE (tenant_id, vendor, fact_key)
);
COMMENT ON TABLE skeldir.attribution_events IS
    'The revenue ledger: one row per order, payment or refund fact, deduplicated on (tenant_id, vendor, fact_key); PII-free.';

ALTER TABLE skeldir.attribution_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.attribution_events FORCE ROW LEVEL SECURITY;

CREATE POLICY attribution_events_belong_to_their_tenant ON skeldir.attribution_events
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
