-- Deploy skeldir:function_dead_letter_replay to pg
BEGIN;

/**
 * Operator: dead letters across tenants (or of one tenant, by id or slug), newest first.
 * reason_code matches exactly or as a prefix before ":" ("missing_field" matches
 * "missing_field:data.object.id"). Only pending rows (never replayed, or replayed and
 * dead-lettered again) unless include_replayed. Runs as the caller (migration_owner):
 * RLS is forced for the owner too, so it scopes itself to each tenant in turn.
 * Raises SK404 for an unknown tenant.
 */
CREATE FUNCTION api.dead_letter_list(
    tenant text DEFAULT NULL, reason_code text DEFAULT NULL, include_replayed boolean DEFAULT false)
RETURNS TABLE (dead_event_id bigint, tenant_id uuid, tenant_slug text, vendor text, reason text,
               detail text, received_at timestamptz, body_bytes integer, replayed_at timestamptz,
               replay_outcome text, replay_event_id bigint)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _t    record;
    _only uuid;
BEGIN
    IF dead_letter_list.tenant IS NOT NULL THEN
        _only := skeldir._tenant_lookup(dead_letter_list.tenant);  -- SK404 for an unknown tenant
    END IF;
    FOR _t IN SELECT t.id, t.slug FROM skeldir.tenants AS t
               WHERE _only IS NULL OR t.id = _only
               ORDER BY t.slug LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _t.id::text, true);
        RETURN QUERY
            SELECT d.id, d.tenant_id, _t.slug, d.vendor, d.reason, d.detail, d.received_at, d.body_bytes,
                   d.replayed_at, d.replay_outcome, d.replay_event_id
              FROM skeldir.dead_letters AS d
             WHERE d.tenant_id = _t.id
               AND (reason_code IS NULL OR d.reason = reason_code OR d.reason LIKE reason_code || ':%')
               AND (include_replayed OR d.replay_outcome IS NULL OR d.replay_outcome = 'dead_lettered')
             ORDER BY d.id DESC;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION api.dead_letter_list(text, text, boolean) IS
    'Operator: pending (or all) dead letters, filtered by tenant and reason. Raises SK404.';

/**
 * Operator: re-run one dead letter through the same mapping and dedupe as a live delivery
 * (skeldir._ingest_document with replayed_from), after a mapping fix. The row is locked
 * and marked: replayed_at, replay_outcome (accepted | duplicate | ignored | dead_lettered),
 * replay_event_id; a replay that fails again updates reason and detail and keeps the row
 * pending. A stored event carries replayed_from = the dead letter id. A body that was not
 * JSON cannot be replayed (only its hash was kept): outcome not_replayable, row unchanged.
 * What is replayed is the stored projection: the customer reference of a replayed
 * event is therefore NULL. Raises SK404 for an unknown dead letter id.
 */
CREATE FUNCTION api.dead_letter_replay(
    dead_event_id bigint,
    OUT tenant_id uuid, OUT outcome text, OUT event_id bigint, OUT reason text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _d        skeldir.dead_letters;
    _t        uuid;
    _status   integer;
    _response jsonb;
BEGIN
    -- The id is unique across tenants (identity); find its tenant under each tenant's scope.
    FOR _t IN SELECT t.id FROM skeldir.tenants AS t LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _t::text, true);
        SELECT * INTO _d FROM skeldir.dead_letters AS d
         WHERE d.tenant_id = _t AND d.id = dead_letter_replay.dead_event_id
           FOR UPDATE;  -- two operators replaying the same row: the second waits, then sees it replayed
        EXIT WHEN FOUND;
    END LOOP;
    IF _d.id IS NULL THEN
        RAISE EXCEPTION 'no dead letter %', dead_event_id USING ERRCODE = 'SK404',
            HINT = 'List them with: skeldir dlq list.';
    END IF;
    tenant_id := _d.tenant_id;
    IF _d.payload IS NULL THEN
        outcome := 'not_replayable';
        reason := _d.reason;
        RETURN;
    END IF;

    SELECT i.http_status, i.response::jsonb INTO _status, _response
      FROM skeldir._ingest_document(_d.tenant_id, _d.vendor, _d.route, _d.headers, _d.payload,
                                    _d.body_sha256, _d.body_bytes, _d.id) AS i;
    outcome := _response ->> 'status';
    event_id := (_response ->> 'event_id')::bigint;
    reason := coalesce(_response ->> 'reason', _d.reason);
    UPDATE skeldir.dead_letters AS d
       SET replayed_at = pg_catalog.now(),
           replay_outcome = dead_letter_replay.outcome,
           replay_event_id = dead_letter_replay.event_id,
           reason = dead_letter_replay.reason
     WHERE d.tenant_id = _d.tenant_id AND d.id = _d.id;
END;
$$;
COMMENT ON FUNCTION api.dead_letter_replay(bigint) IS
    'Operator: replay one dead letter through the same mapping and dedupe; marks the row. Raises SK404.';

/**
 * Operator: replay every pending dead letter with this reason (exact or prefix before
 * ":"), optionally of one tenant, oldest first; one result row per dead letter.
 * Raises SK404 for an unknown tenant.
 */
CREATE FUNCTION api.dead_letter_replay_reason(reason text, tenant text DEFAULT NULL)
RETURNS TABLE (dead_event_id bigint, tenant_id uuid, outcome text, event_id bigint, reason_now text)
LANGUAGE sql VOLATILE SET search_path = '' AS $$
    SELECT l.dead_event_id, r.tenant_id, r.outcome, r.event_id, r.reason
      FROM (SELECT dl.dead_event_id FROM api.dead_letter_list(tenant, reason) AS dl
             ORDER BY dl.dead_event_id) AS l,
           LATERAL api.dead_letter_replay(l.dead_event_id) AS r
$$;
COMMENT ON FUNCTION api.dead_letter_replay_reason(text, text) IS
    'Operator: replay all pending dead letters with a reason. Raises SK404.';

COMMIT;
