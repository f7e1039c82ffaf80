-- Deploy skeldir:table_reconciliation to pg
BEGIN;

/**
 * One row per (tenant, order reference): the latest order event and the sum of payment
 * events carrying that reference, and their status: pending (one side seen, grace period
 * running), matched, amount_mismatch, missing_payment, missing_order. Written only by
 * skeldir._reconcile (attribution task and the pg_cron re-evaluation), idempotently.
 */
CREATE TABLE skeldir.reconciliations (
    tenant_id        uuid NOT NULL REFERENCES skeldir.tenants (id),
    order_ref        text NOT NULL,
    status           text NOT NULL
                     CHECK (status IN ('pending', 'matched', 'amount_mismatch', 'missing_payment', 'missing_order')),
    order_event_id   bigint,
    order_minor      bigint,
    order_currency   char(3),
    payment_count    integer NOT NULL DEFAULT 0,
    payment_minor    bigint,
    payment_currency char(3),
    first_seen_at    timestamptz NOT NULL,
    evaluated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_ref),
    CHECK (order_event_id IS NOT NULL OR payment_count > 0)
);
COMMENT ON TABLE skeldir.reconciliations IS 'Orders matched to payments by order reference, with a status.';
CREATE INDEX reconciliations_pending_idx ON skeldir.reconciliations (tenant_id, first_seen_at) WHERE status = 'pending';

ALTER TABLE skeldir.reconciliations ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.reconciliations FORCE ROW LEVEL SECURITY;

CREATE POLICY reconciliations_belong_to_their_tenant ON skeldir.reconciliations
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

GRANT SELECT ON skeldir.reconciliations TO matview_owner;

COMMIT;
