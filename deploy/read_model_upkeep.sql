-- Deploy skeldir:read_model_upkeep to pg
BEGIN;

-- Read models whose upkeep follows what changed, not all of history (SPEC §6; TimescaleDB's
-- continuous aggregates are the model). Four of the five read models are tables
-- (mv_daily_revenue_summary, mv_channel_performance, mv_allocation_summary,
-- mv_reconciliation_status), grouped by (tenant, UTC day). Every write to what they
-- aggregate records the (tenant, view, day) keys it touched in
-- skeldir.read_model_invalidations, from statement-level triggers (one INSERT per
-- statement, whatever its row count) on the worker's tables only: allocations,
-- reconciliations, failed jobs, and deletes or updates of events. Nothing fires on the
-- ingest path (events are inserted, never updated, by api.webhook_receive): an event's day
-- is invalidated when the worker allocates it, or gives up on it. skeldir.read_model_upkeep,
-- run by skeldir.matview_refresh under its per-view advisory lock, recomputes exactly
-- the invalidated groups from the base tables (DELETE + INSERT in one transaction) through
-- the (tenant_id, time) indexes below, so each group costs what it holds.
-- mv_realtime_revenue stays a materialized view: its refresh reads the last day's block
-- ranges (index_attribution_event_occurred), whatever the history.

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
 * The invalidation log: (tenant, read model, UTC day) groups whose base rows changed since
 * the read model's last upkeep. Append-only for writers (no unique key, so concurrent
 * writers never wait on each other's rows); skeldir.read_model_upkeep deletes the entries
 * it applied, by id, and leaves the ones committed after it looked for the next run.
 */
CREATE TABLE skeldir.read_model_invalidations (
    tenant_id  uuid NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    view_name  text NOT NULL CHECK (view_name IN ('mv_daily_revenue_summary', 'mv_channel_performance',
                                                  'mv_allocation_summary', 'mv_reconciliation_status')),
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
 * Trigger on skeldir.allocations (statement level, transition tables old_rows / new_rows):
 * the days of the allocations written feed mv_channel_performance and mv_allocation_summary;
 * an inserted allocation is also its event's first appearance in the worker, so its day
 * of mv_daily_revenue_summary is invalidated then (events themselves carry no trigger:
 * they are inserted on the ingest path).
 */
CREATE FUNCTION skeldir._invalidate_allocations() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT DISTINCT n.tenant_id, v.view_name, (n.occurred_at AT TIME ZONE 'UTC')::date
          FROM new_rows AS n
         CROSS JOIN pg_catalog.unnest('{mv_daily_revenue_summary,mv_channel_performance,mv_allocation_summary}'::text[])
               AS v (view_name);
        IF FOUND THEN
            PERFORM skeldir._matview_touch('{mv_allocation_summary,mv_channel_performance,mv_daily_revenue_summary}');
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT DISTINCT o.tenant_id, v.view_name, (o.occurred_at AT TIME ZONE 'UTC')::date
          FROM old_rows AS o
         CROSS JOIN pg_catalog.unnest('{mv_channel_performance,mv_allocation_summary}'::text[]) AS v (view_name);
    ELSE
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT DISTINCT k.tenant_id, v.view_name, k.day
          FROM (SELECT o.tenant_id, (o.occurred_at AT TIME ZONE 'UTC')::date AS day FROM old_rows AS o
                UNION
                SELECT n.tenant_id, (n.occurred_at AT TIME ZONE 'UTC')::date FROM new_rows AS n) AS k
         CROSS JOIN pg_catalog.unnest('{mv_channel_performance,mv_allocation_summary}'::text[]) AS v (view_name);
    END IF;
    IF FOUND THEN
        PERFORM skeldir._matview_touch('{mv_allocation_summary,mv_channel_performance}');
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._invalidate_allocations() IS
    'Statement trigger on allocations: invalidates the read-model days the statement touched.';

/**
 * Trigger on deletes and updates of skeldir.attribution_events (a retention delete, a
 * purge, a manual fix): the days of the old and new rows of mv_daily_revenue_summary, and
 * mv_realtime_revenue marked dirty. Never fires on ingestion, which only inserts.
 */
CREATE FUNCTION skeldir._invalidate_events() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
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

/** Trigger on skeldir.reconciliations: both days of a row that moved (old and new first sight). */
CREATE FUNCTION skeldir._invalidate_reconciliations() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT DISTINCT n.tenant_id, 'mv_reconciliation_status', (n.first_seen_at AT TIME ZONE 'UTC')::date
          FROM new_rows AS n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT DISTINCT o.tenant_id, 'mv_reconciliation_status', (o.first_seen_at AT TIME ZONE 'UTC')::date
          FROM old_rows AS o;
    ELSE
        INSERT INTO skeldir.read_model_invalidations (tenant_id, view_name, day)
        SELECT o.tenant_id, 'mv_reconciliation_status', (o.first_seen_at AT TIME ZONE 'UTC')::date FROM old_rows AS o
        UNION
        SELECT n.tenant_id, 'mv_reconciliation_status', (n.first_seen_at AT TIME ZONE 'UTC')::date FROM new_rows AS n;
    END IF;
    IF FOUND THEN
        PERFORM skeldir._matview_touch('{mv_reconciliation_status}');
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._invalidate_reconciliations() IS
    'Statement trigger on reconciliations: invalidates the first-sight days of the rows written.';

/**
 * Trigger on skeldir.worker_failed_jobs: an allocate task that exhausted its retries leaves
 * an event no allocation will ever invalidate, yet mv_daily_revenue_summary counts every
 * event: its day is invalidated here. Runs under the tenant GUC skeldir._task_run sets.
 */
CREATE FUNCTION skeldir._invalidate_failed_jobs() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
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
LANGUAGE plpgsql VOLATILE AS $$
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
 * Applies the pending invalidations of one read model kept by group: tenant by tenant
 * (every table FORCEs RLS, so each tenant's rows are reached under its own GUC), the
 * distinct days logged for it are recomputed (skeldir._read_model_recompute) and exactly
 * the log entries read are deleted; entries committed meanwhile stay for the next run, and
 * the groups they name are recomputed then. Full (the rebuild): every day the tenant has in
 * the base table or the read model, whatever the log says. Callers hold the view's advisory
 * lock (skeldir.matview_refresh, skeldir.read_models_rebuild). Returns the groups
 * recomputed and the rows written.
 */
CREATE FUNCTION skeldir.read_model_upkeep(view_name text, full boolean DEFAULT false,
    OUT groups bigint, OUT rows bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _view   text := read_model_upkeep.view_name;
    _tenant uuid;
    _ids    bigint[];
    _days   date[];
BEGIN
    groups := 0;
    rows := 0;
    FOR _tenant IN SELECT t.id FROM skeldir.tenants AS t ORDER BY t.id LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
        SELECT pg_catalog.array_agg(i.id), pg_catalog.array_agg(DISTINCT i.day) INTO _ids, _days
          FROM skeldir.read_model_invalidations AS i
         WHERE i.tenant_id = _tenant AND i.view_name = _view;
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
        IF _ids IS NOT NULL THEN
            DELETE FROM skeldir.read_model_invalidations AS i WHERE i.tenant_id = _tenant AND i.id = ANY (_ids);
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
END;
$$;
COMMENT ON FUNCTION skeldir.read_model_upkeep(text, boolean) IS
    'Recompute the invalidated (tenant, day) groups of a read model kept by group (all of them when full); returns groups and rows.';

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
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _generation bigint;
    _started    timestamptz;
BEGIN
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
