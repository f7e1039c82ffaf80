-- Deploy skeldir:table_allocation to pg
BEGIN;

/**
 * An event's amount split across channels by the tenant's model. The allocations of one
 * event always sum exactly to its amount (refunds negative). Written only by the
 * attribution task, idempotently: the primary key makes a redelivered task a no-op.
 * kind, currency and occurred_at are the event's, copied when the allocation is written
 * (events are never updated), so the revenue views aggregate this narrow table alone
 * instead of joining it to the events and their payloads.
 */
CREATE TABLE skeldir.allocations (
    tenant_id    uuid NOT NULL,
    event_id     bigint NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('order', 'payment', 'refund')),
    channel      text NOT NULL,
    model        text NOT NULL CHECK (model IN ('last_touch', 'first_touch', 'linear')),
    amount_minor bigint NOT NULL,
    currency     char(3) NOT NULL,
    occurred_at  timestamptz NOT NULL,
    allocated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id, channel),
    FOREIGN KEY (tenant_id, event_id) REFERENCES skeldir.attribution_events (tenant_id, id)
);
COMMENT ON TABLE skeldir.allocations IS 'Per event and channel: allocated minor units; sums to the event amount.';

ALTER TABLE skeldir.allocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.allocations FORCE ROW LEVEL SECURITY;

CREATE POLICY allocations_belong_to_their_tenant ON skeldir.allocations
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
