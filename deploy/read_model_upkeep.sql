-- Deploy skeldir:read_model_upkeep to pg
-- Reworked after v1.0.0: mv_realtime_revenue is kept by deltas like the other four.
BEGIN;

-- The fifth read model joins the four (issue 17). mv_realtime_revenue was a materialized
-- view of the last 24 hours, refreshed after each worker batch: its refresh recomputed the
-- whole day, so its cost followed the day's volume (215 ms a run on a grown database, more
-- than all the deltas of the four tables together). Now:
--   - skeldir.realtime_revenue holds 5-minute buckets (UTC, origin 2000-01-01) per tenant
--     and currency of the processed events, kept by the same deltas at the same commits
--     as mv_daily_revenue_summary (an event counts once the worker processed it);
--   - skeldir.mv_realtime_revenue is a view over it with the window applied at read time:
--     the buckets from the one holding now() - 24 hours on (whole buckets), so the API
--     view, the read endpoint and the dashboards read it unchanged;
--   - deltas are logged only for events of the last 25 hours (the horizon), and each fold
--     prunes its tenant's buckets older than the horizon. A bucket a read can see (at or
--     after the one holding now() - 24 hours) is newer than any horizon of an earlier
--     commit, so it is never pruned, and every event in it was inside the horizon when its
--     delta was logged: what a read sees is exact; what lies between 24 and 25 hours is
--     slack, never read.
-- Nothing is refreshed any more: the allocate tasks mark no view dirty (changes
-- function_task_allocate and function_task_allocate_batch, reworked with this one).

/**
 * The realtime read model: per tenant, 5-minute bucket of occurred_at (UTC) and currency,
 * counts and minor-unit sums of orders, payments and refunds of the processed events of
 * the last 25 hours. Kept by deltas applied at each writer's commit
 * (skeldir._read_model_fold); read through skeldir.mv_realtime_revenue (the 24-hour window)
 * and api.realtime_revenue.
 */
CREATE TABLE skeldir.realtime_revenue (
    tenant_id     uuid NOT NULL,
    bucket        timestamptz NOT NULL,
    currency      text NOT NULL,
    order_count   bigint NOT NULL,
    order_minor   bigint NOT NULL,
    payment_count bigint NOT NULL,
    payment_minor bigint NOT NULL,
    refund_count  bigint NOT NULL,
    refund_minor  bigint NOT NULL,
    CONSTRAINT realtime_revenue_key PRIMARY KEY (tenant_id, bucket, currency)
);
COMMENT ON TABLE skeldir.realtime_revenue IS
    'Revenue of the processed events of the last 25 hours per tenant, 5-minute bucket and currency; kept by deltas at each writer''s commit.';
ALTER TABLE skeldir.realtime_revenue ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.realtime_revenue FORCE ROW LEVEL SECURITY;
CREATE POLICY realtime_revenue_belongs_to_its_tenant ON skeldir.realtime_revenue
    USING (tenant_id = skeldir.current_tenant_id())
    WITH CHECK (tenant_id = skeldir.current_tenant_id());

-- The materialized view gives way to a view of the same name and columns. Renamed first:
-- the API view follows its relation, so it is replaced in place, grants and all.
ALTER MATERIALIZED VIEW skeldir.mv_realtime_revenue RENAME TO mv_realtime_revenue_v1;

/**
 * The last 24 hours of skeldir.realtime_revenue: the buckets from the one that holds
 * now() - 24 hours on, whole. The window is applied when read, so nothing has to be
 * refreshed as time passes. Owned by matview_owner (BYPASSRLS), as the materialized view
 * was: it reads every tenant's rows, and api.realtime_revenue keeps the current tenant's.
 * No app role may select it.
 */
CREATE VIEW skeldir.mv_realtime_revenue AS
SELECT r.tenant_id, r.bucket, r.currency, r.order_count, r.order_minor, r.payment_count, r.payment_minor,
       r.refund_count, r.refund_minor
  FROM skeldir.realtime_revenue AS r
 WHERE r.bucket >= pg_catalog.date_bin('5 minutes', pg_catalog.now() - interval '24 hours', '2000-01-01 00:00:00+00');
COMMENT ON VIEW skeldir.mv_realtime_revenue IS
    'Last 24 hours of revenue per tenant in whole 5-minute buckets (skeldir.realtime_revenue, window applied at read).';
GRANT SELECT ON skeldir.realtime_revenue TO matview_owner;
ALTER VIEW skeldir.mv_realtime_revenue OWNER TO matview_owner;
GRANT SELECT ON skeldir.mv_realtime_revenue TO migration_owner;

CREATE OR REPLACE VIEW api.realtime_revenue WITH (security_barrier) AS
SELECT m.bucket, m.currency, m.order_count, m.order_minor, m.payment_count, m.payment_minor,
       m.refund_count, m.refund_minor
  FROM skeldir.mv_realtime_revenue AS m
 WHERE m.tenant_id = skeldir.current_tenant_id();
DROP MATERIALIZED VIEW skeldir.mv_realtime_revenue_v1;

-- Realtime deltas carry their bucket (day is the bucket's UTC day).
ALTER TABLE skeldir.read_model_deltas
    ADD COLUMN bucket timestamptz,
    DROP CONSTRAINT read_model_deltas_view_name_check,
    ADD CONSTRAINT read_model_deltas_view_name_check
        CHECK (view_name IN ('mv_daily_revenue_summary', 'mv_realtime_revenue', 'mv_channel_performance',
                             'mv_allocation_summary', 'mv_reconciliation_status')),
    ADD CONSTRAINT read_model_deltas_bucket_check CHECK ((bucket IS NOT NULL) = (view_name = 'mv_realtime_revenue'));

/**
 * Trigger on skeldir.allocations (statement level, transition tables old_rows / new_rows):
 * the deltas of the allocations written for mv_channel_performance and
 * mv_allocation_summary (+ for new rows, - for old ones), and of the events whose
 * allocation this statement made or removed for mv_daily_revenue_summary and
 * mv_realtime_revenue. The tenants are noted once, before the first write of deltas
 * (skeldir._read_model_enlist), which is what an immediate apply (SET CONSTRAINTS ...
 * IMMEDIATE) fires on.
 */
CREATE OR REPLACE FUNCTION skeldir._read_model_log_allocations() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _t   uuid[];
    _e   bigint[];
    _net bigint[];
BEGIN
    -- Per event, the allocation rows this statement added (negative: removed).
    IF TG_OP = 'INSERT' THEN
        SELECT pg_catalog.array_agg(c.t), pg_catalog.array_agg(c.e), pg_catalog.array_agg(c.n) INTO _t, _e, _net
          FROM (SELECT r.tenant_id AS t, r.event_id AS e, pg_catalog.count(*) AS n FROM new_rows AS r GROUP BY 1, 2) AS c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT pg_catalog.array_agg(c.t), pg_catalog.array_agg(c.e), pg_catalog.array_agg(c.n) INTO _t, _e, _net
          FROM (SELECT r.tenant_id AS t, r.event_id AS e, -pg_catalog.count(*) AS n FROM old_rows AS r GROUP BY 1, 2) AS c;
    ELSE
        SELECT pg_catalog.array_agg(c.t), pg_catalog.array_agg(c.e), pg_catalog.array_agg(c.n) INTO _t, _e, _net
          FROM (SELECT x.t, x.e, pg_catalog.sum(x.n)::bigint AS n
                  FROM (SELECT r.tenant_id, r.event_id, 1 FROM new_rows AS r
                        UNION ALL
                        SELECT r.tenant_id, r.event_id, -1 FROM old_rows AS r) AS x (t, e, n)
                 GROUP BY 1, 2) AS c;
    END IF;
    IF _t IS NULL THEN
        RETURN NULL;  -- no row written (an idempotent redelivery)
    END IF;
    PERFORM skeldir._read_model_enlist(ARRAY(SELECT DISTINCT t FROM pg_catalog.unnest(_t) AS t));
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, key1, key2, currency, kind, n, minor)
        SELECT r.tenant_id, 'mv_channel_performance', (r.occurred_at AT TIME ZONE 'UTC')::date, r.channel, NULL,
               r.currency::text, r.kind, pg_catalog.count(*), pg_catalog.sum(r.amount_minor)
          FROM new_rows AS r GROUP BY 1, 3, 4, 6, 7
        UNION ALL
        SELECT r.tenant_id, 'mv_allocation_summary', (r.occurred_at AT TIME ZONE 'UTC')::date, r.channel, r.model,
               r.currency::text, NULL, pg_catalog.count(*), pg_catalog.sum(r.amount_minor)
          FROM new_rows AS r GROUP BY 1, 3, 4, 5, 6;
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
    END IF;
    PERFORM skeldir._read_model_log_processed('allocations', _t, _e, _net);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_log_allocations() IS
    'Statement trigger on allocations: deltas of the allocation read models and of the daily summary.';

/**
 * The deltas of mv_daily_revenue_summary and mv_realtime_revenue when allocations or
 * failed allocate tasks of some events change: an event counts once it is processed (it
 * has an allocation, or a failed allocate task), so each event whose processed state this
 * statement changed counts +1 or -1 with its own kind, currency, day (bucket) and amount;
 * in the realtime buckets only when it occurred within the last 25 hours (the horizon).
 * `source` is the table written ('allocations' or 'failed'), `net` per event the rows that
 * statement added (negative: removed), so the state before is the state now minus them.
 * Runs in the writer's trigger, under its RLS; notes the tenants first
 * (skeldir._read_model_enlist).
 */
CREATE OR REPLACE FUNCTION skeldir._read_model_log_processed(source text, tenant_ids uuid[], event_ids bigint[], nets bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    PERFORM skeldir._read_model_enlist(ARRAY(SELECT DISTINCT t FROM pg_catalog.unnest(_read_model_log_processed.tenant_ids) AS t));
    -- PL/pgSQL, not SQL: the plan is cached for the session (planning this statement costs
    -- more than running it for a batch's events).
    WITH changed AS (
        SELECT e.tenant_id, e.occurred_at, e.currency::text AS currency, e.kind, e.amount_minor, m.d
          FROM unnest(_read_model_log_processed.tenant_ids, _read_model_log_processed.event_ids,
                      _read_model_log_processed.nets) AS u (t, e, net)  -- multi-array form: FROM only, unqualified
         CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n FROM skeldir.allocations AS a
                              WHERE a.tenant_id = u.t AND a.event_id = u.e) AS a
         CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n FROM skeldir.worker_failed_jobs AS f
                              WHERE f.tenant_id = u.t AND f.task_name = 'allocate' AND f.payload ->> 'event_id' = u.e::text) AS f
         CROSS JOIN LATERAL (SELECT (a.n > 0 OR f.n > 0)::integer
                                    - (CASE WHEN _read_model_log_processed.source = 'allocations'
                                            THEN a.n - u.net > 0 OR f.n > 0
                                            ELSE a.n > 0 OR f.n - u.net > 0 END)::integer AS d) AS m
          JOIN skeldir.attribution_events AS e ON e.tenant_id = u.t AND e.id = u.e
         WHERE m.d <> 0
    )
    INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, bucket, currency, kind, n, minor)
    SELECT c.tenant_id, 'mv_daily_revenue_summary', (c.occurred_at AT TIME ZONE 'UTC')::date, NULL, c.currency,
           c.kind, pg_catalog.sum(c.d), pg_catalog.sum(c.d * c.amount_minor)
      FROM changed AS c
     GROUP BY 1, 3, 5, 6
    UNION ALL
    SELECT c.tenant_id, 'mv_realtime_revenue', (b.bucket AT TIME ZONE 'UTC')::date, b.bucket, c.currency,
           c.kind, pg_catalog.sum(c.d), pg_catalog.sum(c.d * c.amount_minor)
      FROM changed AS c
     CROSS JOIN LATERAL (SELECT pg_catalog.date_bin('5 minutes', c.occurred_at, '2000-01-01 00:00:00+00') AS bucket) AS b
     WHERE c.occurred_at >= pg_catalog.now() - interval '25 hours'
     GROUP BY 1, 4, 5, 6;
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_log_processed(text, uuid[], bigint[], bigint[]) IS
    'Daily-summary and realtime deltas of events whose processed state (allocated, or allocate gave up) a statement changed.';

/**
 * Trigger on deletes and updates of skeldir.attribution_events (a retention delete, a
 * purge, a manual fix): a processed event (allocated, or its allocate task gave up) leaves
 * mv_daily_revenue_summary and, when it occurred within the last 25 hours, its realtime
 * bucket with its old values and, if it still exists, enters them with its new ones. An
 * event not processed yet counts nowhere, so its delete or update changes nothing there.
 * Never fires on ingestion, which only inserts. (Allocations reference their event, so an
 * event is deleted after its allocations, whose own trigger has uncounted it by then.)
 */
CREATE OR REPLACE FUNCTION skeldir._read_model_log_events() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM old_rows) THEN
        RETURN NULL;
    END IF;
    PERFORM skeldir._read_model_enlist(ARRAY(SELECT DISTINCT o.tenant_id FROM old_rows AS o));
    IF TG_OP = 'DELETE' THEN
        WITH changed AS (
            SELECT o.tenant_id, o.occurred_at, o.currency::text AS currency, o.kind, o.amount_minor, -1 AS sign
              FROM old_rows AS o
             WHERE EXISTS (SELECT FROM skeldir.allocations AS a WHERE a.tenant_id = o.tenant_id AND a.event_id = o.id)
                OR EXISTS (SELECT FROM skeldir.worker_failed_jobs AS f
                            WHERE f.tenant_id = o.tenant_id AND f.task_name = 'allocate' AND f.payload ->> 'event_id' = o.id::text)
        )
        INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, bucket, currency, kind, n, minor)
        SELECT c.tenant_id, 'mv_daily_revenue_summary', (c.occurred_at AT TIME ZONE 'UTC')::date, NULL, c.currency,
               c.kind, pg_catalog.sum(c.sign), pg_catalog.sum(c.sign * c.amount_minor)
          FROM changed AS c
         GROUP BY 1, 3, 5, 6
        UNION ALL
        SELECT c.tenant_id, 'mv_realtime_revenue', (b.bucket AT TIME ZONE 'UTC')::date, b.bucket, c.currency,
               c.kind, pg_catalog.sum(c.sign), pg_catalog.sum(c.sign * c.amount_minor)
          FROM changed AS c
         CROSS JOIN LATERAL (SELECT pg_catalog.date_bin('5 minutes', c.occurred_at, '2000-01-01 00:00:00+00') AS bucket) AS b
         WHERE c.occurred_at >= pg_catalog.now() - interval '25 hours'
         GROUP BY 1, 4, 5, 6;
    ELSE
        WITH changed AS (
            SELECT x.tenant_id, x.occurred_at, x.currency::text AS currency, x.kind, x.amount_minor, x.sign
              FROM (SELECT o.tenant_id, o.id, o.occurred_at, o.currency, o.kind, o.amount_minor, -1 AS sign FROM old_rows AS o
                    UNION ALL
                    SELECT n.tenant_id, n.id, n.occurred_at, n.currency, n.kind, n.amount_minor, 1 FROM new_rows AS n) AS x
             WHERE EXISTS (SELECT FROM skeldir.allocations AS a WHERE a.tenant_id = x.tenant_id AND a.event_id = x.id)
                OR EXISTS (SELECT FROM skeldir.worker_failed_jobs AS f
                            WHERE f.tenant_id = x.tenant_id AND f.task_name = 'allocate' AND f.payload ->> 'event_id' = x.id::text)
        )
        INSERT INTO skeldir.read_model_deltas (tenant_id, view_name, day, bucket, currency, kind, n, minor)
        SELECT c.tenant_id, 'mv_daily_revenue_summary', (c.occurred_at AT TIME ZONE 'UTC')::date, NULL, c.currency,
               c.kind, pg_catalog.sum(c.sign), pg_catalog.sum(c.sign * c.amount_minor)
          FROM changed AS c
         GROUP BY 1, 3, 5, 6
        HAVING pg_catalog.sum(c.sign) <> 0 OR pg_catalog.sum(c.sign * c.amount_minor) <> 0
        UNION ALL
        SELECT c.tenant_id, 'mv_realtime_revenue', (b.bucket AT TIME ZONE 'UTC')::date, b.bucket, c.currency,
               c.kind, pg_catalog.sum(c.sign), pg_catalog.sum(c.sign * c.amount_minor)
          FROM changed AS c
         CROSS JOIN LATERAL (SELECT pg_catalog.date_bin('5 minutes', c.occurred_at, '2000-01-01 00:00:00+00') AS bucket) AS b
         WHERE c.occurred_at >= pg_catalog.now() - interval '25 hours'
         GROUP BY 1, 4, 5, 6
        HAVING pg_catalog.sum(c.sign) <> 0 OR pg_catalog.sum(c.sign * c.amount_minor) <> 0;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_log_events() IS
    'Statement trigger on event deletes/updates: processed events leave (and re-enter) the daily summary and realtime buckets.';

/**
 * Folds a tenant's deltas of this transaction into one read model: takes them off
 * skeldir.read_model_deltas, adds their sums per key to the rows (INSERT ... ON CONFLICT DO
 * UPDATE, keys in ascending order, so two transactions lock shared keys in the same order),
 * and deletes the touched rows whose count fell to zero, as a full recomputation has no row
 * there (mv_realtime_revenue: and its buckets past the 25-hour horizon). Costs the deltas,
 * not the groups. Runs under the tenant's GUC. Returns the rows written. Raises 22023 for a
 * view that is not kept by deltas.
 */
CREATE OR REPLACE FUNCTION skeldir._read_model_fold(view_name text, tenant_id uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _t    uuid := _read_model_fold.tenant_id;
    _x    xid8 := pg_catalog.pg_current_xact_id();
    _zero date[];
    _zbuckets timestamptz[];
    _rows bigint;
BEGIN
    CASE _read_model_fold.view_name
    WHEN 'mv_daily_revenue_summary' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.xact = _x AND d.view_name = 'mv_daily_revenue_summary'
            RETURNING d.day, d.currency, d.kind, d.n, d.minor
        ), up AS (
            INSERT INTO skeldir.mv_daily_revenue_summary AS m
                   (tenant_id, day, currency, order_count, order_minor, payment_count, payment_minor,
                    refund_count, refund_minor, event_count)
            SELECT _t, x.day, x.currency,
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'order'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'order'), 0),
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'payment'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'payment'), 0),
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'refund'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'refund'), 0),
                   pg_catalog.sum(x.n)
              FROM taken AS x
             GROUP BY x.day, x.currency
             ORDER BY x.day, x.currency
            ON CONFLICT ON CONSTRAINT mv_daily_revenue_summary_key DO UPDATE
               SET order_count = m.order_count + excluded.order_count, order_minor = m.order_minor + excluded.order_minor,
                   payment_count = m.payment_count + excluded.payment_count,
                   payment_minor = m.payment_minor + excluded.payment_minor,
                   refund_count = m.refund_count + excluded.refund_count,
                   refund_minor = m.refund_minor + excluded.refund_minor,
                   event_count = m.event_count + excluded.event_count
            RETURNING m.day, m.event_count = 0 AS zero
        )
        SELECT pg_catalog.array_agg(DISTINCT u.day) FILTER (WHERE u.zero), pg_catalog.count(*) INTO _zero, _rows FROM up AS u;
        IF _zero IS NOT NULL THEN
            DELETE FROM skeldir.mv_daily_revenue_summary AS m
             WHERE m.tenant_id = _t AND m.day = ANY (_zero) AND m.event_count = 0;
        END IF;
    WHEN 'mv_realtime_revenue' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.xact = _x AND d.view_name = 'mv_realtime_revenue'
            RETURNING d.bucket, d.currency, d.kind, d.n, d.minor
        ), up AS (
            INSERT INTO skeldir.realtime_revenue AS m
                   (tenant_id, bucket, currency, order_count, order_minor, payment_count, payment_minor,
                    refund_count, refund_minor)
            SELECT _t, x.bucket, x.currency,
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'order'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'order'), 0),
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'payment'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'payment'), 0),
                   coalesce(pg_catalog.sum(x.n) FILTER (WHERE x.kind = 'refund'), 0),
                   coalesce(pg_catalog.sum(x.minor) FILTER (WHERE x.kind = 'refund'), 0)
              FROM taken AS x
             GROUP BY x.bucket, x.currency
             ORDER BY x.bucket, x.currency
            ON CONFLICT ON CONSTRAINT realtime_revenue_key DO UPDATE
               SET order_count = m.order_count + excluded.order_count, order_minor = m.order_minor + excluded.order_minor,
                   payment_count = m.payment_count + excluded.payment_count,
                   payment_minor = m.payment_minor + excluded.payment_minor,
                   refund_count = m.refund_count + excluded.refund_count,
                   refund_minor = m.refund_minor + excluded.refund_minor
            RETURNING m.bucket, m.order_count + m.payment_count + m.refund_count = 0 AS zero
        )
        SELECT pg_catalog.array_agg(DISTINCT u.bucket) FILTER (WHERE u.zero), pg_catalog.count(*) INTO _zbuckets, _rows FROM up AS u;
        IF _zbuckets IS NOT NULL THEN
            DELETE FROM skeldir.realtime_revenue AS m
             WHERE m.tenant_id = _t AND m.bucket = ANY (_zbuckets) AND m.order_count + m.payment_count + m.refund_count = 0;
        END IF;
        IF _rows > 0 THEN
            -- Buckets past the horizon can no longer be read (the window is 24 hours). Rows
            -- another commit holds are skipped, never waited for: the next fold takes them.
            DELETE FROM skeldir.realtime_revenue AS m
             WHERE m.ctid = ANY (ARRAY(
                   SELECT o.ctid FROM skeldir.realtime_revenue AS o
                    WHERE o.tenant_id = _t
                      AND o.bucket < pg_catalog.date_bin('5 minutes', pg_catalog.now() - interval '25 hours', '2000-01-01 00:00:00+00')
                      FOR UPDATE SKIP LOCKED));
        END IF;
    WHEN 'mv_channel_performance' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.xact = _x AND d.view_name = 'mv_channel_performance'
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
            RETURNING m.day, m.order_count + m.payment_count + m.refund_count = 0 AS zero
        )
        SELECT pg_catalog.array_agg(DISTINCT u.day) FILTER (WHERE u.zero), pg_catalog.count(*) INTO _zero, _rows FROM up AS u;
        IF _zero IS NOT NULL THEN
            DELETE FROM skeldir.mv_channel_performance AS m
             WHERE m.tenant_id = _t AND m.day = ANY (_zero) AND m.order_count + m.payment_count + m.refund_count = 0;
        END IF;
    WHEN 'mv_allocation_summary' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.xact = _x AND d.view_name = 'mv_allocation_summary'
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
            RETURNING m.day, m.event_count = 0 AS zero
        )
        SELECT pg_catalog.array_agg(DISTINCT u.day) FILTER (WHERE u.zero), pg_catalog.count(*) INTO _zero, _rows FROM up AS u;
        IF _zero IS NOT NULL THEN
            DELETE FROM skeldir.mv_allocation_summary AS m
             WHERE m.tenant_id = _t AND m.day = ANY (_zero) AND m.event_count = 0;
        END IF;
    WHEN 'mv_reconciliation_status' THEN
        WITH taken AS (
            DELETE FROM skeldir.read_model_deltas AS d
             WHERE d.tenant_id = _t AND d.xact = _x AND d.view_name = 'mv_reconciliation_status'
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
            RETURNING m.day, m.ref_count = 0 AS zero
        )
        SELECT pg_catalog.array_agg(DISTINCT u.day) FILTER (WHERE u.zero), pg_catalog.count(*) INTO _zero, _rows FROM up AS u;
        IF _zero IS NOT NULL THEN
            DELETE FROM skeldir.mv_reconciliation_status AS m
             WHERE m.tenant_id = _t AND m.day = ANY (_zero) AND m.ref_count = 0;
        END IF;
    ELSE
        RAISE EXCEPTION 'read model % is not kept by deltas', _read_model_fold.view_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Kept by deltas: mv_daily_revenue_summary, mv_realtime_revenue, mv_channel_performance, mv_allocation_summary, mv_reconciliation_status.';
    END CASE;
    RETURN _rows;
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_fold(text, uuid) IS
    'Fold a tenant''s deltas of this transaction into a read model; drop rows whose count fell to zero. Raises 22023.';

/**
 * Constraint trigger on skeldir.read_model_deltas, deferred to the commit, fired once per
 * delta row: if the row is still there (one primary-key probe), this transaction's deltas
 * have not been applied yet, and it applies every tenant the transaction noted
 * (skeldir._read_model_enlist) plus the row's own, tenants in ascending order and the five
 * read models in name order per tenant. So every writer locks summary rows in one global
 * order (tenant, view, key), and only from its commit's start to its end; the later
 * firings find their row gone and return. The note only orders the work: a row whose
 * tenant was not noted is applied by its own firing. SET CONSTRAINTS ... IMMEDIATE applies
 * at the end of each statement instead (the pgTAP suites do, being one transaction). Runs
 * as its owner: the deltas are committed by whoever wrote the base rows, app_user
 * included, who may not touch the read models; it still works under each tenant's GUC.
 */
CREATE OR REPLACE FUNCTION skeldir._read_model_apply() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _guc    text := pg_catalog.current_setting('app.current_tenant_id', true);
    _tenant uuid;
    _view   text;
BEGIN
    PERFORM pg_catalog.set_config('app.current_tenant_id', NEW.tenant_id::text, true);
    IF EXISTS (SELECT FROM skeldir.read_model_deltas AS d
                WHERE d.tenant_id = NEW.tenant_id AND d.xact = NEW.xact AND d.view_name = NEW.view_name AND d.id = NEW.id) THEN
        FOR _tenant IN SELECT DISTINCT x::uuid
                         FROM pg_catalog.unnest(pg_catalog.string_to_array(
                                  nullif(pg_catalog.current_setting('skeldir.read_model_tenants', true), ''), ',')
                                  || NEW.tenant_id::text) AS x
                        ORDER BY 1 LOOP
            PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
            FOREACH _view IN ARRAY '{mv_allocation_summary,mv_channel_performance,mv_daily_revenue_summary,mv_realtime_revenue,mv_reconciliation_status}'::text[] LOOP
                PERFORM skeldir._read_model_fold(_view, _tenant);
            END LOOP;
        END LOOP;
        PERFORM pg_catalog.set_config('skeldir.read_model_tenants', '', true);
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', coalesce(_guc, ''), true);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_apply() IS
    'Deferred constraint trigger: apply the transaction''s read-model deltas at commit, tenants and keys in order.';

/**
 * Recomputes one read model of one tenant whole from its base table (the rebuild): deletes
 * the tenant's rows and inserts what the base rows give now. mv_daily_revenue_summary
 * counts the processed events only (allocated, or their allocate task gave up): the others
 * count when the worker processes them; mv_realtime_revenue those of the last 25 hours.
 * Runs under the tenant's GUC. Returns the groups (days; realtime: buckets and currencies)
 * and rows inserted. Raises 22023 for a view that is not kept by deltas.
 */
CREATE OR REPLACE FUNCTION skeldir._read_model_recompute(view_name text, tenant_id uuid, OUT groups bigint, OUT rows bigint)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _t uuid := _read_model_recompute.tenant_id;
BEGIN
    CASE _read_model_recompute.view_name
    WHEN 'mv_daily_revenue_summary' THEN
        DELETE FROM skeldir.mv_daily_revenue_summary AS m WHERE m.tenant_id = _t;
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
         WHERE e.tenant_id = _t
           AND (EXISTS (SELECT FROM skeldir.allocations AS a WHERE a.tenant_id = e.tenant_id AND a.event_id = e.id)
                OR EXISTS (SELECT FROM skeldir.worker_failed_jobs AS f
                            WHERE f.tenant_id = e.tenant_id AND f.task_name = 'allocate'
                              AND f.payload ->> 'event_id' = e.id::text))
         GROUP BY 2, e.currency;
    WHEN 'mv_realtime_revenue' THEN
        DELETE FROM skeldir.realtime_revenue AS m WHERE m.tenant_id = _t;
        INSERT INTO skeldir.realtime_revenue
               (tenant_id, bucket, currency, order_count, order_minor, payment_count, payment_minor,
                refund_count, refund_minor)
        SELECT _t, pg_catalog.date_bin('5 minutes', e.occurred_at, '2000-01-01 00:00:00+00'), e.currency::text,
               pg_catalog.count(*) FILTER (WHERE e.kind = 'order'),
               coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'order'), 0)::bigint,
               pg_catalog.count(*) FILTER (WHERE e.kind = 'payment'),
               coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'payment'), 0)::bigint,
               pg_catalog.count(*) FILTER (WHERE e.kind = 'refund'),
               coalesce(pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'refund'), 0)::bigint
          FROM skeldir.attribution_events AS e
         WHERE e.tenant_id = _t
           AND e.occurred_at >= pg_catalog.now() - interval '25 hours'
           AND (EXISTS (SELECT FROM skeldir.allocations AS a WHERE a.tenant_id = e.tenant_id AND a.event_id = e.id)
                OR EXISTS (SELECT FROM skeldir.worker_failed_jobs AS f
                            WHERE f.tenant_id = e.tenant_id AND f.task_name = 'allocate'
                              AND f.payload ->> 'event_id' = e.id::text))
         GROUP BY 2, e.currency;
        GET DIAGNOSTICS rows = ROW_COUNT;
        groups := rows;  -- a (bucket, currency) row is its own group
        RETURN;
    WHEN 'mv_channel_performance' THEN
        DELETE FROM skeldir.mv_channel_performance AS m WHERE m.tenant_id = _t;
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
         WHERE a.tenant_id = _t
         GROUP BY 2, a.channel, a.currency;
    WHEN 'mv_allocation_summary' THEN
        DELETE FROM skeldir.mv_allocation_summary AS m WHERE m.tenant_id = _t;
        INSERT INTO skeldir.mv_allocation_summary
               (tenant_id, day, model, channel, currency, event_count, allocated_minor)
        SELECT _t, (a.occurred_at AT TIME ZONE 'UTC')::date, a.model, a.channel, a.currency::text,
               pg_catalog.count(*), pg_catalog.sum(a.amount_minor)::bigint
          FROM skeldir.allocations AS a
         WHERE a.tenant_id = _t
         GROUP BY 2, a.model, a.channel, a.currency;
    WHEN 'mv_reconciliation_status' THEN
        DELETE FROM skeldir.mv_reconciliation_status AS m WHERE m.tenant_id = _t;
        INSERT INTO skeldir.mv_reconciliation_status
               (tenant_id, day, status, currency, ref_count, order_minor, payment_minor)
        SELECT _t, (r.first_seen_at AT TIME ZONE 'UTC')::date, r.status, coalesce(r.order_currency, r.payment_currency, 'XXX')::text,
               pg_catalog.count(*),
               coalesce(pg_catalog.sum(r.order_minor), 0)::bigint,
               coalesce(pg_catalog.sum(r.payment_minor), 0)::bigint
          FROM skeldir.reconciliations AS r
         WHERE r.tenant_id = _t
         GROUP BY 2, r.status, coalesce(r.order_currency, r.payment_currency, 'XXX');
    ELSE
        RAISE EXCEPTION 'read model % is not kept by deltas', _read_model_recompute.view_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Kept by deltas: mv_daily_revenue_summary, mv_realtime_revenue, mv_channel_performance, mv_allocation_summary, mv_reconciliation_status.';
    END CASE;
    GET DIAGNOSTICS rows = ROW_COUNT;
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(DISTINCT m.day) FROM skeldir.%I AS m WHERE m.tenant_id = $1',
                              _read_model_recompute.view_name)
       INTO groups USING _t;
END;
$$;
COMMENT ON FUNCTION skeldir._read_model_recompute(text, uuid) IS
    'Recompute one tenant of a read model kept by deltas whole from its base table (the rebuild). Raises 22023.';

/**
 * The recovery path (after a crash, a restored backup, a manual fix): rebuilds every read
 * model from the base tables. Waits for each view's advisory lock (so no refresh runs
 * alongside), recomputes every tenant of the five read models, all in one transaction, logs each view with `trigger` and clears
 * the dirty flags whose generation did not move meanwhile. `skeldir db rebuild-read-models`
 * calls it. Returns one row per view.
 */
CREATE OR REPLACE FUNCTION skeldir.read_models_rebuild(trigger text DEFAULT 'rebuild')
RETURNS TABLE (view_name text, outcome text, groups bigint, rows bigint, duration_ms double precision)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _generation bigint;
    _started    timestamptz;
BEGIN
    -- Every writer of a read model writes its deltas here first: writers still running are
    -- waited for, new ones wait until the rebuild commits, and the ones that committed
    -- before are all in the recomputation. A delta is counted once.
    LOCK TABLE skeldir.read_model_deltas IN EXCLUSIVE MODE;
    FOR view_name, _generation IN SELECT s.view_name, s.generation FROM skeldir.matview_state AS s ORDER BY s.view_name LOOP
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('skeldir.matview:' || view_name));
        _started := pg_catalog.clock_timestamp();
        SELECT u.groups, u.rows INTO groups, rows FROM skeldir.read_model_upkeep(read_models_rebuild.view_name, true) AS u;
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

-- The realtime buckets of what is already stored (an upgrade from v1.0.0), tenant by
-- tenant under its GUC (the table forces RLS). Nothing is ever refreshed again.
DO $$
DECLARE
    _tenant uuid;
BEGIN
    FOR _tenant IN SELECT t.id FROM skeldir.tenants AS t ORDER BY t.id LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
        PERFORM skeldir._read_model_recompute('mv_realtime_revenue', _tenant);
    END LOOP;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
END;
$$;
UPDATE skeldir.matview_state SET dirty = false, refreshed_at = pg_catalog.now() WHERE view_name = 'mv_realtime_revenue';

COMMIT;
