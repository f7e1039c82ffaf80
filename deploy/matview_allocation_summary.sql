-- Deploy skeldir:matview_allocation_summary to pg
BEGIN;

/**
 * Per tenant, UTC day, model, channel and currency: how many events allocated something
 * to the channel and the net minor units allocated. A table kept by the deltas of the
 * writes to skeldir.allocations, applied when each writer commits (change
 * read_model_upkeep). The read API sums it over a date range; tenants read it through
 * api.allocation_summary.
 */
CREATE TABLE skeldir.mv_allocation_summary (
    tenant_id       uuid NOT NULL,
    day             date NOT NULL,
    model           text NOT NULL,
    channel         text NOT NULL,
    currency        text NOT NULL,
    event_count     bigint NOT NULL,
    allocated_minor bigint NOT NULL,
    CONSTRAINT mv_allocation_summary_key PRIMARY KEY (tenant_id, day, model, channel, currency)
);
COMMENT ON TABLE skeldir.mv_allocation_summary IS
    'Allocation totals per tenant, day, model and channel; kept by the deltas of allocations, applied at each writer''s commit.';

ALTER TABLE skeldir.mv_allocation_summary ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.mv_allocation_summary FORCE ROW LEVEL SECURITY;
CREATE POLICY mv_allocation_summary_belongs_to_its_tenant ON skeldir.mv_allocation_summary
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_allocation_summary', false);

COMMIT;
