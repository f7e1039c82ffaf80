-- Deploy skeldir:matview_channel_performance to pg
BEGIN;

/**
 * Per tenant, UTC day, channel and currency: allocated minor units of orders, payments and
 * refunds (refunds negative) and how many events of each kind reached the channel. A table
 * kept by the deltas of the writes to skeldir.allocations alone (each row carries its
 * event's kind, currency and occurred_at), applied when each writer commits (change
 * read_model_upkeep). Tenants read it through api.channel_performance.
 */
CREATE TABLE skeldir.mv_channel_performance (
    tenant_id     uuid NOT NULL,
    day           date NOT NULL,
    channel       text NOT NULL,
    currency      text NOT NULL,
    order_count   bigint NOT NULL,
    order_minor   bigint NOT NULL,
    payment_count bigint NOT NULL,
    payment_minor bigint NOT NULL,
    refund_count  bigint NOT NULL,
    refund_minor  bigint NOT NULL,
    net_minor     bigint NOT NULL,
    CONSTRAINT mv_channel_performance_key PRIMARY KEY (tenant_id, day, channel, currency)
);
COMMENT ON TABLE skeldir.mv_channel_performance IS
    'Allocated revenue per tenant, day and channel; kept by the deltas of allocations, applied at each writer''s commit.';

ALTER TABLE skeldir.mv_channel_performance ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.mv_channel_performance FORCE ROW LEVEL SECURITY;
CREATE POLICY mv_channel_performance_belongs_to_its_tenant ON skeldir.mv_channel_performance
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_channel_performance', false);

COMMIT;
