-- Deploy skeldir:table_dead_letter to pg
BEGIN;

/**
 * Verified deliveries that could not be mapped to a canonical event. The reason is a
 * stable code (invalid_json, not_an_object, missing_field:<path>, bad_type:<path>,
 * bad_amount, bad_currency). The payload is the vendor's projection (NULL when the body was
 * not JSON; body_sha256 and body_bytes still identify it); headers keep only the non-secret
 * routing headers, so a replay can re-run the mapping after a fix.
 */
CREATE TABLE skeldir.dead_letters (
    tenant_id     uuid NOT NULL REFERENCES skeldir.tenants (id),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    vendor        text NOT NULL,
    route         text NOT NULL,
    reason        text NOT NULL,
    detail        text,
    headers       jsonb NOT NULL DEFAULT '{}',
    payload       jsonb,
    body_sha256   bytea NOT NULL,
    body_bytes    integer NOT NULL,
    customer_ref  text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at   timestamptz,
    replay_outcome text,
    replay_event_id bigint,
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE skeldir.dead_letters IS 'Unmappable verified deliveries with a stable reason code; only known fields kept.';
CREATE INDEX dead_letters_reason_idx ON skeldir.dead_letters (tenant_id, reason) WHERE replayed_at IS NULL;

ALTER TABLE skeldir.dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.dead_letters FORCE ROW LEVEL SECURITY;

CREATE POLICY dead_letters_belong_to_their_tenant ON skeldir.dead_letters
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

COMMIT;
