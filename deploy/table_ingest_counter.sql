-- Deploy skeldir:table_ingest_counter to pg
BEGIN;

/**
 * Outcomes that store no row of their own: deliveries rejected for a bad or stale
 * signature, and unsupported topics. One counter per tenant, vendor, day and outcome.
 */
CREATE TABLE skeldir.ingest_counters (
    tenant_id uuid NOT NULL REFERENCES skeldir.tenants (id),
    vendor    text NOT NULL,
    day       date NOT NULL,
    outcome   text NOT NULL CHECK (outcome IN ('unauthorized', 'ignored')),
    count     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, vendor, day, outcome)
);
COMMENT ON TABLE skeldir.ingest_counters IS 'Daily counts of deliveries that stored nothing else.';

ALTER TABLE skeldir.ingest_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.ingest_counters FORCE ROW LEVEL SECURITY;

CREATE POLICY ingest_counters_belong_to_their_tenant ON skeldir.ingest_counters
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
