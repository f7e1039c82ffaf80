-- Deploy skeldir:matview_daily_revenue_summary to pg
BEGIN;

/**
 * Per tenant, UTC day and currency: counts and minor-unit sums of orders, payments and
 * refunds of the events the worker has processed (allocated, or their allocate task gave
 * up). A table kept by deltas applied when each writer commits (change read_model_upkeep).
 * Its rows always equal
 *   SELECT tenant_id, (occurred_at AT TIME ZONE 'UTC')::date, currency, counts and sums
 *     FROM skeldir.attribution_events WHERE <processed> GROUP BY 1, 2, 3
 * which, once every allocate task ran, is every event. Tenants read it through
 * api.daily_revenue.
 */
CREATE TABLE skeldir.mv_daily_revenue_summary (
    tenant_id     uuid NOT NULL,
    day           date NOT NULL,
    currency      text NOT NULL,
    order_count   bigint NOT NULL,
    order_minor   bigint NOT NULL,
    payment_count bigint NOT NULL,
    payment_minor bigint NOT NULL,
    refund_count  bigint NOT NULL,
    refund_minor  bigint NOT NULL,
    event_count   bigint NOT NULL,
    CONSTRAINT mv_daily_revenue_summary_key PRIMARY KEY (tenant_id, day, currency)
);
COMMENT ON TABLE skeldir.mv_daily_revenue_summary IS
    'Daily revenue per tenant and currency; events counted once processed, by deltas applied at each writer''s commit.';

ALTER TABLE skeldir.mv_daily_revenue_summary ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.mv_daily_revenue_summary FORCE ROW LEVEL SECURITY;
CREATE POLICY mv_daily_revenue_summary_belongs_to_its_tenant ON skeldir.mv_daily_revenue_summary
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

INSERT INTO skeldir.matview_state (view_name, dirty) VALUES ('mv_daily_revenue_summary', false);

COMMIT;
