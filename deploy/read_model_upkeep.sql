-- Deploy skeldir:read_model_upkeep to pg
BEGIN;

-- Read models whose upkeep follows what changed, not all of history (SPEC §6; TimescaleDB's
-- continuous aggregates are the model). Four of the five read models are tables keyed by
-- (tenant, UTC day, ...). Statement-level triggers (one INSERT per statement, whatever its
-- row count) on the worker's tables only (allocations, reconciliations, failed jobs, and
-- deletes or updates of events) log what a write changed:
--   - mv_channel_performance, mv_allocation_summary, mv_reconciliation_status are sums and
--     counts: the triggers log signed deltas per key (skeldir.read_model_deltas), and an
--     upkeep folds them in: it costs the rows written since the last one, not the groups;
--   - mv_daily_revenue_summary counts events, which are inserted on the ingest path where
--     nothing may fire: the day of an event is invalidated when the worker allocates it (or
--     gives up on it), and an upkeep recomputes the invalidated (tenant, day) groups from the
--     events (skeldir.read_model_invalidations), through the index below: O(group).
-- skeldir.read_model_upkeep runs under skeldir.matview_refresh's per-view advisory lock, in
-- one transaction with what it changes. mv_realtime_revenue stays a materialized view: its
-- refresh reads the last day's block ranges (index_attribution_event_occurred).

-- A group is found by tenant and UTC day, the read models' own key: O(group), not O(tenant)
-- or O(table). Keyed on the day expression rather than the timestamp, so that a query over
-- a time range of all tenants (mv_realtime_revenue) keeps its BRIN plan instead of reading
-- a whole (tenant_id, occurred_at) btree.
CREATE INDEX attribution_events_tenant_day_idx
    ON skeldir.attribution_events (tenant_id, ((occurred_at AT TIME ZONE 'UTC')::date));
CREATE INDEX allocations_tenant_day_idx
    ON skeldir.allocations (tenant_id, ((occurred_at AT TIME ZONE 'UTC')::date));
CREATE INDEX reconciliations_tenant_day_idx
    ON skeldir.reconciliations (tenant_id, ((first_seen_at AT TIME ZONE 'UTC')::date));

/**
 * The invalidation log of mv_daily_revenue_summary: (tenant, UTC day) groups whose events
 * changed since its last upkeep. Append-only for writers (no unique key, so concurrent
 * writers never wait on each other's rows); skeldir.read_model_upkeep takes the entries it
 * sees and leaves the ones committed after it looked for the next run.
 */
CREATE TABLE skeldir.read_model_invalidations (
    tenant_id  uuid NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    view_name  text NOT NULL CHECK (view_name = 'mv_daily_revenue_summary'),
    day        date NOT NULL,
    logged_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE skeldir.read_model_invalidations IS
    'Read-model groups (tenant, view, UTC day) changed since their last upkeep.';
ALTER TABLE skeldir.read_model_invalidations ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.read_model_invalidations FORCE ROW LEVEL SECURITY;
CREATE POLICY read_model_invalidations_belong_to_their_tenant ON skeldir.read_model_invalidations
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

/**
 * The delta log of the additive read models: signed counts and minor-unit sums per key of
 * mv_channel_performance (day, channel, currency, kind), mv_allocation_summary (day,
 * channel, model, currency) and mv_reconciliation_status (day, status, currency), as the
 * statement triggers below read them off the transition tables of allocations and
 * reconciliations (an inserted row counts +1, a deleted one -1, an update both). Append-only
 * for writers; skeldir.read_model_upkeep folds a tenant's entries into the read model and
 * deletes them in one transaction, so an upkeep costs the rows written since the last one,
 * however large the groups they land in.
 */
CREATE TABLE skeldir.read_model_deltas (
    tenant_id uuid NOT NULL,
    id        bigint GENERATED ALWAYS AS IDENTITY,
    view_name text NOT NULL CHECK (view_name IN ('mv_channel_performance', 'mv_allocation_summary',
                                                 'mv_reconciliation_status')),
    day       date NOT NULL,
    key1      text NOT NULL,  -- channel, or reconciliation status
    key2      text,           -- model (mv_allocation_summary)
    currency  text NOT NULL,
    kind      text,           -- order | payment | refund (mv_channel_performance)
    n         bigint NOT NULL,
    minor     bigint NOT NULL,  -- allocated minor units, or order_minor (mv_reconciliation_status)
    minor2    bigint NOT NULL DEFAULT 0,  -- payment_minor (mv_reconciliation_status)
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE skeldir.read_model_deltas IS
    'Signed count and sum deltas of the additive read models, folded in by skeldir.read_model_upkeep.';
ALTER TABLE skeldir.read_model_deltas ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.read_model_deltas FORCE ROW LEVEL SECURITY;
CREATE POLICY read_model_deltas_belong_to_their_tenant ON skeldir.read_model_deltas
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

/**
 * Trigger on skeldir.allocations (statement level, transition tables old_rows / new_rows):
 * the deltas of the allocations written for mv_channel_performance and
 * mv_allocation_summary (+ for new rows, - for old ones). An inserted allocation is also its
 * event's first appearance in the worker, so its day of mv_daily_revenue_summary is
 * invalidated then (events themselves carry no trigger: they are inserted on the ingest path).
 */
CREATE FUNCTION skeldir._invalidate_allocations() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _n bigint := 0;
    _k bigint;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, key1, key2, currency, kind, n, minor)
        SELECT r.tenant_id, 'mv_channel_performance', (r.occurred_at AT TIME ZONE 'UTC')::date, r.channel, NULL,
               r.currency::text, r.kind, pg_catalog.count(*), pg_catalog.sum(r.amount_minor)
          FROM new_rows AS r GROUP BY 1, 3, 4, 6, 7
        UNION ALL
        SELECT r.tenant_id, 'mv_allocation_summary', (r.occurred_at AT TIME ZONE 'UTC')::date, r.channel, r.model,
               r.currency::text, NULL, pg_catalog.count(*), pg_catalog.sum(r.amount_minor)
          FROM new_rows AS r GROUP BY 1, 3, 4, 5, 6;
        GET DIAGNOSTICS _k = ROW_COUNT;
        _n := _n + _k;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, key1, key2, currency, kind, n, minor)
        SELECT r.tenant_id, 'mv_channel_performance', (r.occurred_at AT TIME ZONE 'UTC')::date, r.channel, NULL,
               r.currency::text, r.kind, -pg_catalog.count(*), -pg_catalog.sum(r.amount_minor)
          FROM old_rows AS r GROUP BY 1, 3, 4, 6, 7
        UNION ALL
        SELECT r.tenant_id, 'mv_allocation_summary', (r.occurred_at AT TIME ZONE 'UTC')::date, r.channel, r.model,
               r.currency::text, NULL, -pg_catalog.count(*), -pg_catalog.sum(r.amount_minor)
          FROM old_rows AS r GROUP BY 1, 3, 4, 5, 6;
        GET DIAGNOSTICS _k = ROW_COUNT;
        _n := _n + _k;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT DISTINCT r.tenant_id, 'mv_daily_revenue_summary', (r.occurred_at AT TIME ZONE 'UTC')::date
          FROM new_rows AS r;
    END IF;
    IF _n > 0 THEN
        PERFORM skeldir._matview_touch(CASE TG_OP WHEN 'INSERT'
            THEN '{mv_allocation_summary,mv_channel_performance,mv_daily_revenue_summary}'::text[]
            ELSE '{mv_allocation_summary,mv_channel_performance}'::text[] END);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._invalidate_allocations() IS
    'Statement trigger on allocations: deltas of the allocation read models, daily-summary days of new allocations.';

/**
 * Trigger on deletes and updates of skeldir.attribution_events (a retention delete, a
 * purge, a manual fix): the days of the old and new rows of mv_daily_revenue_summary, and
 * mv_realtime_revenue marked dirty. Never fires on ingestion, which only inserts.
 */
CREATE FUNCTION skeldir._invalidate_events() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT DISTINCT o.tenant_id, 'mv_daily_revenue_summary', (o.occurred_at AT TIME ZONE 'UTC')::date
          FROM old_rows AS o;
    ELSE
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT o.tenant_id, 'mv_daily_revenue_summary', (o.occurred_at AT TIME ZONE 'UTC')::date FROM old_rows AS o
        UNION
        SELECT n.tenant_id, 'mv_daily_revenue_summary', (n.occurred_at AT TIME ZONE 'UTC')::date FROM new_rows AS n;
    END IF;
    IF FOUND THEN
        PERFORM skeldir._matview_touch('{mv_daily_revenue_summary,mv_realtime_revenue}');
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._invalidate_events() IS
    'Statement trigger on event deletes/updates: invalidates their days of mv_daily_revenue_summary.';

/**
 * Trigger on skeldir.reconciliations: each row written counts -1 in the group (day of first
 * sight, status, currency) it leaves and +1 in the one it enters, with its amounts.
 */
CREATE FUNCTION skeldir._invalidate_reconciliations() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _n bigint := 0;
    _k bigint;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, key1, currency, n, minor, minor2)
        SELECT r.tenant_id, 'mv_reconciliation_status', (r.first_seen_at AT TIME ZONE 'UTC')::date, r.status,
               coalesce(r.order_currency, r.payment_currency, 'XXX')::text, pg_catalog.count(*),
               coalesce(pg_catalog.sum(r.order_minor), 0), coalesce(pg_catalog.sum(r.payment_minor), 0)
          FROM new_rows AS r GROUP BY 1, 3, 4, 5;
        GET DIAGNOSTICS _k = ROW_COUNT;
        _n := _n + _k;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, key1, currency, n, minor, minor2)
        SELECT r.tenant_id, 'mv_reconciliation_status', (r.first_seen_at AT TIME ZONE 'UTC')::date, r.status,
               coalesce(r.order_currency, r.payment_currency, 'XXX')::text, -pg_catalog.count(*),
               -coalesce(pg_catalog.sum(r.order_minor), 0), -coalesce(pg_catalog.sum(r.payment_minor), 0)
          FROM old_rows AS r GROUP BY 1, 3, 4, 5;
        GET DIAGNOSTICS _k = ROW_COUNT;
        _n := _n + _k;
    END IF;
    IF _n > 0 THEN
        PERFORM skeldir._matview_touch('{mv_reconciliation_status}');
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._invalidate_reconciliations() IS
    'Statement trigger on reconciliations: -1 in the group a row leaves, +1 in the one it enters.';

/**
 * Trigger on skeldir.worker_failed_jobs: an allocate task that exhausted its retries leaves
 * an event no allocation will ever invalidate, yet mv_daily_revenue_summary counts every
 * event: its day is invalidated here. Runs under the tenant GUC skeldir._task_run sets.
 */
CREATE FUNCTION skeldir._invalidate_failed_jobs() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
    SELECT DISTINCT e.tenant_id, 'mv_daily_revenue_summary', (e.occurred_at AT TIME ZONE 'UTC')::date
      FROM new_rows AS f
      JOIN skeldir.attribution_events AS e
        ON e.tenant_id = f.tenant_id
       AND e.id = CASE WHEN f.payload ->> 'event_id' ~ '^[0-9]{1,18}$' THEN (f.payload ->> 'event_id')::bigint END
     WHERE f.task_name = 'allocate';
    IF FOUND THEN
        PERFORM skeldir._matview_touch('{mv_daily_revenue_summary}');
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._invalidate_failed_jobs() IS
    'Statement trigger on failed jobs: the day of an event whose allocation gave up is invalidated.';

-- Transition tables allow one event per trigger. A statement trigger fires even when the
-- statement wrote no row (an idempotent redelivery): then it inserts nothing and marks
-- nothing dirty.
CREATE TRIGGER allocations_invalidate_insert AFTER INSERT ON skeldir.allocations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_allocations();
CREATE TRIGGER allocations_invalidate_update AFTER UPDATE ON skeldir.allocations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_allocations();
CREATE TRIGGER allocations_invalidate_delete AFTER DELETE ON skeldir.allocations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_allocations();
CREATE TRIGGER attribution_events_invalidate_update AFTER UPDATE ON skeldir.attribution_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_events();
CREATE TRIGGER attribution_events_invalidate_delete AFTER DELETE ON skeldir.attribution_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_events();
CREATE TRIGGER reconciliations_invalidate_insert AFTER INSERT ON skeldir.reconciliations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_reconciliations();
CREATE TRIGGER reconciliations_invalidate_update AFTER UPDATE ON skeldir.reconciliations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_reconciliations();
CREATE TRIGGER reconciliations_invalidate_delete AFTER DELETE ON skeldir.reconciliations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_reconciliations();
CREATE TRIGGER worker_failed_jobs_invalidate_insert AFTER INSERT ON skeldir.worker_failed_jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skeldir._invalidate_failed_jobs();

/**
 * Recomputes the given UTC days of one tenant in one read model from its base table:
 * deletes those groups' rows and inserts what the base rows give now (a day without base
 * rows any more keeps no row). Each day is one range of the base table's (tenant_id, day)
 * index. Runs under the tenant's GUC. Returns the rows inserted. Raises 22023 for a
 * view that is not kept by group.
 */
CREATE FUNCTION skeldir._read_model_recompute(view_name text, tenant_id uuid, days date[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _t    uuid := _read_model_recompute.tenant_id;
    _days date[] := _read_model_recompute.days;
    _rows bigint;
BEGIN
    CASE _read_model_recompute.view_name
    WHEN 'mv_daily_revenue_summary' THEN
        DELETE FROM skeldir.mv_daily_revenue_summary AS m WHERE m.tenant_id = _t AND m.day = ANY (_days);
        INSERT INTO skeldir.mv_daily_revenue_summary
               (tenant_id, day, currency, order_count, order_minor, payment_count, payment_minor,
                refund_count, refund_minor, event_count)
        SELECT _t, (e.occurred_at AT TIME ZONE 'UTC')::date, e.currency::text,
               pg_catalog.count(*) FILTER (WHERE e.kind = 'order'),
               coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'order'), 0)::bigint,
               pg_catalog.count(*) FILTER (WHERE e.kind = 'payment'),
               coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'payment'), 0)::bigint,
               pg_catalog.count(*) FILTER (WHERE e.kind = 'refund'),
               coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'refund'), 0)::bigint,
               pg_catalog.count(*)
          FROM skeldir.attribution_events AS e
         WHERE e.tenant_id = _t AND (e.occurred_at AT TIME ZONE 'UTC')::date = ANY (_days)
         GROUP BY 2, e.currency;
    WHEN 'mv_channel_performance' THEN
        DELETE FROM skeldir.mv_channel_performance AS m WHERE m.tenant_id = _t AND m.day = ANY (_days);
        INSERT INTO skeldir.mv_channel_performance
               (tenant_id, day, channel, currency, order_count, order_minor, payment_count, payment_minor,
                refund_count, refund_minor, net_minor)
        SELECT _t, (a.occurred_at AT TIME ZONE 'UTC')::date, a.channel, a.currency::text,
               pg_catalog.count(*) FILTER (WHERE a.kind = 'order'),
               coalesce(pg_catalog.sum(a.amount_minor) FILTER (WHERE a.kind = 'order'), 0)::bigint,
               pg_catalog.count(*) FILTER (WHERE a.kind = 'payment'),
               coalesce(pg_catalog.sum(a.amount_minor) FILTER (WHERE a.kind = 'payment'), 0)::bigint,
               pg_catalog.count(*) FILTER (WHERE a.kind = 'refund'),
               coalesce(pg_catalog.sum(a.amount_minor) FILTER (WHERE a.kind = 'refund'), 0)::bigint,
               pg_catalog.sum(a.amount_minor)::bigint
          FROM skeldir.allocations AS a
         WHERE a.tenant_id = _t AND (a.occurred_at AT TIME ZONE 'UTC')::date = ANY (_days)
         GROUP BY 2, a.channel, a.currency;
    WHEN 'mv_allocation_summary' THEN
        DELETE FROM skeldir.mv_allocation_summary AS m WHERE m.tenant_id = _t AND m.day = ANY (_days);
        INSERT INTO skeldir.mv_allocation_summary
               (tenant_id, day, model, channel, currency, event_count, allocated_minor)
        SELECT _t, (a.occurred_at AT TIME ZONE 'UTC')::date, a.model, a.channel, a.currency::text,
               pg_catalog.count(*), pg_catalog.sum(a.amount_minor)::bigint
          FROM skeldir.allocations AS a
         WHERE a.tenant_id = _t AND (a.occurred_at AT TIME ZONE 'UTC')::date = ANY (_days)
         GROUP BY 2, a.model, a.channel, a.currency;
    WHEN 'mv_reconciliation_status' THEN
        DELETE FROM skeldir.mv_reconciliation_status AS m WHERE m.tenant_id = _t AND m.day = ANY (_days);
        INSERT INTO skeldir.mv_reconciliation_status
               (tenant_id, day, status, currency, ref_count, order_minor, payment_minor)
        SELECT _t, (r.first_seen_at AT TIME ZONE 'UTC')::date, r.status, coalesce(r.order_currency, r.payment_currency, 'XXX')::text,
               pg_catalog.count(*),
               coalesce(pg_catalog.sum(r.order_minor), 0)::bigint,
               coalesce(pg_catalog.sum(r.payment_minor), 0)::bigint
          FROM skeldir.reconciliations AS r
         WHERE r.tenant_id = _t AND (r.first_seen_at AT TIME ZONE 'UTC')::date = ANY (_days)
         GROUP BY 2, r.status, coalesce(r.order_currency, r.payment_currency, 'XXX');
    ELSE
        RAISE EXCEPTION 'read model % is not kept by group', _read_model_recompute.view_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Kept by group: mv_daily_revenue_summary, mv_channel_performance, mv_allocation_summary, mv_reconciliation_status.';
    END CASE;
    GET DIAGNOSTICS _rows = ROW_COUNT;
    RETURN _rows;
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_recompute(text, uuid, date[]) IS
    'Recompute given days of one tenant in a read model kept by group (delete + insert). Raises 22023.';

/**
 * Folds the pending deltas of one tenant into an additive read model (mv_channel_performance,
 * mv_allocation_summary, mv_reconciliation_status): takes them off the log (deleted, in this
 * transaction), adds their sums per key to the rows (inserting new keys), and deletes the
 * touched rows whose count fell to zero, as a full recomputation would have no row there.
 * Costs the deltas, not the groups. Runs under the tenant's GUC. Returns the days touched and
 * the rows written.
 */
CREATE FUNCTION skeldir._read_model_fold(view_name text, tenant_id uuid, OUT groups bigint, OUT rows bigint)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _t    uuid := _read_model_fold.tenant_id;
    _days date[];
BEGIN
    CASE _read_model_fold.view_name
    WHEN 'mv_channel_performance' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.view_name = 'mv_channel_performance'
            RETURNING d.day, d.key1, d.currency, d.kind, d.n, d.minor
        ), up AS (
            INSERT INTO skeldir.mv_channel_performance AS m
                   (tenant_id, day, channel, currency, order_count, order_minor, payment_count, payment_minor,
                    refund_count, refund_minor, net_minor)
            SELECT _t, x.day, x.key1, x.currency,
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'order'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'order'), 0),
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'payment'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'payment'), 0),
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'refund'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'refund'), 0),
                   pg_catalog.sum(x.minor)
              FROM taken AS x
             GROUP BY x.day, x.key1, x.currency
             ORDER BY x.day, x.key1, x.currency
            ON CONFLICT ON CONSTRAINT mv_channel_performance_key DO UPDATE
               SET order_count = m.order_count + excluded.order_count, order_minor = m.order_minor + excluded.order_minor,
                   payment_count = m.payment_count + excluded.payment_count,
                   payment_minor = m.payment_minor + excluded.payment_minor,
                   refund_count = m.refund_count + excluded.refund_count,
                   refund_minor = m.refund_minor + excluded.refund_minor, net_minor = m.net_minor + excluded.net_minor
            RETURNING m.day
        )
        SELECT pg_catalog.array_agg(DISTINCT u.day), pg_catalog.count(*) INTO _days, rows FROM up AS u;
        DELETE FROM skeldir.mv_channel_performance AS m
         WHERE m.tenant_id = _t AND m.day = ANY (_days) AND m.order_count + m.payment_count + m.refund_count = 0;
    WHEN 'mv_allocation_summary' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.view_name = 'mv_allocation_summary'
            RETURNING d.day, d.key1, d.key2, d.currency, d.n, d.minor
        ), up AS (
            INSERT INTO skeldir.mv_allocation_summary AS m
                   (tenant_id, day, model, channel, currency, event_count, allocated_minor)
            SELECT _t, x.day, x.key2, x.key1, x.currency, pg_catalog.sum(x.n), pg_catalog.sum(x.minor)
              FROM taken AS x
             GROUP BY x.day, x.key2, x.key1, x.currency
             ORDER BY x.day, x.key2, x.key1, x.currency
            ON CONFLICT ON CONSTRAINT mv_allocation_summary_key DO UPDATE
               SET event_count = m.event_count + excluded.event_count,
                   allocated_minor = m.allocated_minor + excluded.allocated_minor
            RETURNING m.day
        )
        SELECT pg_catalog.array_agg(DISTINCT u.day), pg_catalog.count(*) INTO _days, rows FROM up AS u;
        DELETE FROM skeldir.mv_allocation_summary AS m
         WHERE m.tenant_id = _t AND m.day = ANY (_days) AND m.event_count = 0;
    WHEN 'mv_reconciliation_status' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.view_name = 'mv_reconciliation_status'
            RETURNING d.day, d.key1, d.currency, d.n, d.minor, d.minor2
        ), up AS (
            INSERT INTO skeldir.mv_reconciliation_status AS m
                   (tenant_id, day, status, currency, ref_count, order_minor, payment_minor)
            SELECT _t, x.day, x.key1, x.currency, pg_catalog.sum(x.n), pg_catalog.sum(x.minor), pg_catalog.sum(x.minor2)
              FROM taken AS x
             GROUP BY x.day, x.key1, x.currency
             ORDER BY x.day, x.key1, x.currency
            ON CONFLICT ON CONSTRAINT mv_reconciliation_status_key DO UPDATE
               SET ref_count = m.ref_count + excluded.ref_count, order_minor = m.order_minor + excluded.order_minor,
                   payment_minor = m.payment_minor + excluded.payment_minor
            RETURNING m.day
        )
        SELECT pg_catalog.array_agg(DISTINCT u.day), pg_catalog.count(*) INTO _days, rows FROM up AS u;
        DELETE FROM skeldir.mv_reconciliation_status AS m
         WHERE m.tenant_id = _t AND m.day = ANY (_days) AND m.ref_count = 0;
    ELSE
        RAISE EXCEPTION 'read model % is not kept by deltas', _read_model_fold.view_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Kept by deltas: mv_channel_performance, mv_allocation_summary, mv_reconciliation_status.';
    END CASE;
    groups := coalesce(pg_catalog.cardinality(_days), 0);
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_fold(text, uuid) IS
    'Fold a tenant''s pending deltas into an additive read model; drop rows whose count fell to zero. Raises 22023.';

/**
 * Brings one read model up to date from its log, tenant by tenant (every table FORCEs RLS,
 * so each tenant's rows are reached under its own GUC). mv_daily_revenue_summary: the days
 * invalidated for it are taken off the log (deleted, in this transaction) and recomputed
 * from the events (skeldir._read_model_recompute). The additive three: their deltas are
 * folded in (skeldir._read_model_fold). Entries committed while it runs are not seen and
 * stay for the next run. Full (the rebuild): every day the tenant has in the base table or
 * the read model is recomputed and the pending entries are dropped; the caller must keep
 * writers out meanwhile (skeldir.read_models_rebuild locks the delta log). Callers hold the
 * view's advisory lock (skeldir.matview_refresh, skeldir.read_models_rebuild). Returns the
 * (tenant, day) groups touched and the rows written.
 */
CREATE FUNCTION skeldir.read_model_upkeep(view_name text, full boolean DEFAULT false,
    OUT groups bigint, OUT rows bigint)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _view   text := read_model_upkeep.view_name;
    _tenant uuid;
    _days   date[];
    _f      record;
BEGIN
    groups := 0;
    rows := 0;
    FOR _tenant IN SELECT t.id FROM skeldir.tenants AS t ORDER BY t.id LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
        IF _view <> 'mv_daily_revenue_summary' AND NOT read_model_upkeep.full THEN
            SELECT f.groups, f.rows INTO _f FROM skeldir._read_model_fold(_view, _tenant) AS f;
            groups := groups + _f.groups;
            rows := rows + _f.rows;
            CONTINUE;
        END IF;
        _days := NULL;
        IF _view = 'mv_daily_revenue_summary' THEN
            WITH taken AS (
                DELETE FROM skeldir.read_model_invalidations AS i
                 WHERE i.tenant_id = _tenant AND i.view_name = _view
                RETURNING i.day
            )
            SELECT pg_catalog.array_agg(DISTINCT t.day) INTO _days FROM taken AS t;
        ELSE
            DELETE FROM skeldir.read_model_deltas AS d WHERE d.tenant_id = _tenant AND d.view_name = _view;
        END IF;
        IF read_model_upkeep.full THEN
            EXECUTE pg_catalog.format(
                'SELECT pg_catalog.array_agg(DISTINCT d) FROM (SELECT m.day FROM skeldir.%I AS m WHERE m.tenant_id = $1
                  UNION ALL SELECT (b.%I AT TIME ZONE ''UTC'')::date FROM skeldir.%I AS b WHERE b.tenant_id = $1) AS x (d)',
                _view,
                CASE _view WHEN 'mv_reconciliation_status' THEN 'first_seen_at' ELSE 'occurred_at' END,
                CASE _view WHEN 'mv_daily_revenue_summary' THEN 'attribution_events'
                           WHEN 'mv_reconciliation_status' THEN 'reconciliations' ELSE 'allocations' END)
              INTO _days USING _tenant;
        END IF;
        IF _days IS NOT NULL THEN
            rows := rows + skeldir._read_model_recompute(_view, _tenant, _days);
            groups := groups + pg_catalog.cardinality(_days);
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
END;
$$;
COMMENT ON FUNCTION skeldir.read_model_upkeep(text, boolean) IS
    'Bring a read model up to date from its log (daily: recompute invalidated days; others: fold deltas), or rebuild it (full).';

/**
 * The recovery path (after a crash, a restored backup, a manual fix): rebuilds every read
 * model from the base tables. Waits for each view's advisory lock (so no upkeep runs
 * alongside), recomputes every group of every tenant of the four tables and refreshes
 * mv_realtime_revenue, all in one transaction, logs each view with `trigger` and clears
 * the dirty flags whose generation did not move meanwhile. `skeldir db rebuild-read-models`
 * calls it. Returns one row per view.
 */
CREATE FUNCTION skeldir.read_models_rebuild(trigger text DEFAULT 'rebuild')
RETURNS TABLE (view_name text, outcome text, groups bigint, rows bigint, duration_ms double precision)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _generation bigint;
    _started    timestamptz;
BEGIN
    -- Writers of deltas wait until the rebuild commits, and the ones that committed before are
    -- all visible to it: a delta is then either in the recomputation or still pending, never both.
    LOCK TABLE skeldir.read_model_deltas IN EXCLUSIVE MODE;
    FOR view_name, _generation IN SELECT s.view_name, s.generation FROM skeldir.matview_state AS s ORDER BY s.view_name LOOP
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('skeldir.matview:' || view_name));
        _started := pg_catalog.clock_timestamp();
        IF view_name = 'mv_realtime_revenue' THEN
            REFRESH MATERIALIZED VIEW CONCURRENTLY skeldir.mv_realtime_revenue;
            groups := NULL;
            rows := (SELECT pg_catalog.count(*) FROM skeldir.mv_realtime_revenue);
        ELSE
            SELECT u.groups, u.rows INTO groups, rows FROM skeldir.read_model_upkeep(read_models_rebuild.view_name, true) AS u;
        END IF;
        outcome := 'refreshed';
        duration_ms := extract(epoch FROM pg_catalog.clock_timestamp() - _started) * 1000;
        INSERT INTO skeldir.matview_refresh_log (view_name, trigger, started_at, duration_ms, rows, groups, outcome)
        VALUES (read_models_rebuild.view_name, read_models_rebuild.trigger, _started, read_models_rebuild.duration_ms,
                read_models_rebuild.rows, read_models_rebuild.groups, 'refreshed');
        UPDATE skeldir.matview_state AS s
           SET dirty = (s.generation <> _generation), refreshed_at = _started
         WHERE s.view_name = read_models_rebuild.view_name;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION skeldir.read_models_rebuild(text) IS
    'Rebuild every read model from the base tables under their advisory locks, logged; one row per view.';

COMMIT;
