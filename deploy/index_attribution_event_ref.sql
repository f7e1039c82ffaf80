-- Deploy skeldir:index_attribution_event_ref to pg
BEGIN;

-- Lookups of the pipeline: a customer's earlier touches (allocation), the events of one
-- order or payment (refund reversal, reconciliation). Partial: most rows lack some refs.
CREATE INDEX attribution_events_customer_idx
    ON skeldir.attribution_events (tenant_id, customer_ref, occurred_at) WHERE customer_ref IS NOT NULL;
CREATE INDEX attribution_events_order_ref_idx
    ON skeldir.attribution_events (tenant_id, order_ref) WHERE order_ref IS NOT NULL;
CREATE INDEX attribution_events_payment_ref_idx
    ON skeldir.attribution_events (tenant_id, payment_ref) WHERE payment_ref IS NOT NULL;

COMMIT;
