-- Deploy skeldir:matview_reconciliation_status to pg
BEGIN;

/**
 * Per tenant, UTC day of first sight, status and currency: how many order references are
 * in that state and their order and payment minor-unit sums. A table kept by the deltas
 * of the writes to skeldir.reconciliations (-1 on the side a status move leaves, +1 on the
 * one it enters), applied when each writer commits (change read_model_upkeep). Tenants
 * read it through api.reconciliation_status.
 */
CREATE TABLE skeldir.mv_reconciliation_status (
    tenant_id     uuid NOT NULL,
    day           date NOT NULL,
    status        text NOT NULL,
    currency      text NOT NULL,  -- XXX: mixed currencies
    ref_count     bigint NOT NULL,
    order_minor   bigint NOT NULL,
    payment_minor bigint NOT NULL,
    CONSTRAINT mv_reconciliation_status_key PRIMARY KEY (tenant_id, day, status, currency)
);
COMMENT ON TABLE skeldir.mv_reconciliation_status IS
    'Reconciliation states per tenant and day; kept by the deltas of reconciliations, applied at each writer''s commit.';

ALTER TABLE skeldir.mv_reconciliation_status ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.mv_reconciliation_status FORCE ROW LEVEL SECURITY;
CREATE POLICY mv_reconciliation_status_belongs_to_its_tenant ON skeldir.mv_reconciliation_status
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_reconciliation_status', false);

COMMIT;
