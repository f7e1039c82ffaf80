-- Deploy skeldir:function_reconciliation to pg
BEGIN;

/**
 * The reconciliation state table, as a pure function so that it is testable on its own.
 * Both sides seen: matched when amount and currency agree, else amount_mismatch. One side
 * seen: pending until `grace` has passed since first_seen_at, then missing_payment (an
 * order without payment) or missing_order (a payment without order). Raises 22023 when
 * neither side is given.
 */
CREATE FUNCTION skeldir._reconciliation_status(
    has_order boolean, order_minor bigint, order_currency text,
    has_payment boolean, payment_minor bigint, payment_currency text,
    first_seen_at timestamptz, at timestamptz, grace interval
) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
    IF has_order AND has_payment THEN
        RETURN CASE WHEN order_minor = payment_minor AND order_currency = payment_currency
                    THEN 'matched' ELSE 'amount_mismatch' END;
    ELSIF has_order OR has_payment THEN
        IF at < first_seen_at + grace THEN
            RETURN 'pending';
        END IF;
        RETURN CASE WHEN has_order THEN 'missing_payment' ELSE 'missing_order' END;
    END IF;
    RAISE EXCEPTION 'nothing to reconcile: neither an order nor a payment'
        USING ERRCODE = 'invalid_parameter_value';
END;
$$;
COMMENT ON FUNCTION skeldir._reconciliation_status(boolean, bigint, text, boolean, bigint, text, timestamptz, timestamptz, interval) IS
    'Reconciliation state table: matched | amount_mismatch | pending | missing_payment | missing_order. Raises 22023.';

/**
 * Re-evaluates order references of one tenant from their canonical events, all in one
 * pass: for each, the latest event of kind order (by occurred_at, id) against the sum of
 * the events of kind payment with that order_ref, whatever vendor sent them. Upserts each
 * reference's row, or deletes it when no event carries the reference any more (only rows
 * that changed are written: mv_reconciliation_status follows them at commit, change
 * read_model_upkeep). Returns the status of
 * each reference that still has events. Idempotent. Runs under the caller's tenant GUC.
 * Rows are written in reference order, so concurrent callers lock them in the same order.
 */
CREATE FUNCTION skeldir._reconcile_refs(tenant_id uuid, order_refs text[])
RETURNS TABLE (ref text, ref_status text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _refs     text[];
    _statuses text[];
    _gone     text[];
    _changed  bigint;
BEGIN
    -- Each reference is looked up on its own (a LATERAL aggregate per reference), never as
    -- `order_ref = ANY (refs)`: for that form the planner may scan the tenant's whole index
    -- range and filter, which it picks whenever its statistics do not know the tenant yet
    -- (a new or fast-growing tenant, until the next ANALYZE), at a cost that grows with the
    -- tenant. Plain aggregates (no ordered or DISTINCT ones, which sort), then each latest
    -- order by index order (attribution_events_order_ref_idx).
    WITH agg AS (
        SELECT x.order_ref, a.payments, a.payment_minor, a.payment_currency_min, a.payment_currency_max,
               a.orders, a.first_seen_at
          FROM (SELECT DISTINCT u.order_ref FROM pg_catalog.unnest(_reconcile_refs.order_refs) AS u (order_ref)
                 WHERE u.order_ref IS NOT NULL) AS x
         CROSS JOIN LATERAL (
               SELECT pg_catalog.count(*) FILTER (WHERE e.kind = 'payment')::integer AS payments,
                      pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'payment')::bigint AS payment_minor,
                      pg_catalog.min(e.currency) FILTER (WHERE e.kind = 'payment') AS payment_currency_min,
                      pg_catalog.max(e.currency) FILTER (WHERE e.kind = 'payment') AS payment_currency_max,
                      pg_catalog.count(*) FILTER (WHERE e.kind = 'order') AS orders,
                      pg_catalog.min(e.received_at) AS first_seen_at
                 FROM skeldir.attribution_events AS e
                WHERE e.tenant_id = _reconcile_refs.tenant_id AND e.order_ref = x.order_ref
                  AND e.kind IN ('order', 'payment')) AS a
         WHERE a.payments > 0 OR a.orders > 0
    ), rec AS (
        SELECT a.order_ref, o.id AS order_event_id, o.amount_minor AS order_minor, o.currency AS order_currency,
               a.payments, a.payment_minor,
               -- payments in several currencies never match one order
               CASE WHEN a.payment_currency_min = a.payment_currency_max THEN a.payment_currency_min END AS payment_currency,
               a.first_seen_at, s.reconciliation_grace AS grace
          FROM agg AS a
         CROSS JOIN skeldir.settings AS s
          LEFT JOIN LATERAL (SELECT e.id, e.amount_minor, e.currency
                               FROM skeldir.attribution_events AS e
                              WHERE a.orders > 0
                                AND e.tenant_id = _reconcile_refs.tenant_id AND e.order_ref = a.order_ref
                                AND e.kind = 'order'
                              ORDER BY e.occurred_at DESC, e.id DESC
                              LIMIT 1) AS o ON true
    ), st AS (
        SELECT rec.*, skeldir._reconciliation_status(
                   rec.order_event_id IS NOT NULL, rec.order_minor, rec.order_currency::text,
                   rec.payments > 0, rec.payment_minor, rec.payment_currency::text,
                   rec.first_seen_at, pg_catalog.now(), rec.grace) AS status
          FROM rec
    ), up AS (
        INSERT INTO skeldir.reconciliations AS r
               (tenant_id, order_ref, status, order_event_id, order_minor, order_currency,
                payment_count, payment_minor, payment_currency, first_seen_at)
        SELECT _reconcile_refs.tenant_id, n.order_ref, n.status, n.order_event_id, n.order_minor, n.order_currency,
               n.payments, n.payment_minor, n.payment_currency, n.first_seen_at
          FROM st AS n
         ORDER BY n.order_ref
        ON CONFLICT ON CONSTRAINT reconciliations_pkey DO UPDATE
           SET status = excluded.status, order_event_id = excluded.order_event_id,
               order_minor = excluded.order_minor, order_currency = excluded.order_currency,
               payment_count = excluded.payment_count, payment_minor = excluded.payment_minor,
               payment_currency = excluded.payment_currency, first_seen_at = excluded.first_seen_at,
               evaluated_at = pg_catalog.now()
         WHERE (r.status, r.order_event_id, r.order_minor, r.order_currency, r.payment_count, r.payment_minor,
                r.payment_currency, r.first_seen_at)
               IS DISTINCT FROM
               (excluded.status, excluded.order_event_id, excluded.order_minor, excluded.order_currency,
                excluded.payment_count, excluded.payment_minor, excluded.payment_currency, excluded.first_seen_at)
        RETURNING r.order_ref
    )
    SELECT pg_catalog.array_agg(n.order_ref), pg_catalog.array_agg(n.status),
           (SELECT pg_catalog.count(*) FROM up)
      INTO _refs, _statuses, _changed
      FROM st AS n;

    -- References no event carries any more (their events were purged) lose their row. The
    -- allocate path never has any: it passes the references of events it just read.
    _gone := ARRAY(SELECT u.order_ref FROM pg_catalog.unnest(_reconcile_refs.order_refs) AS u (order_ref)
                    WHERE u.order_ref IS NOT NULL
                   EXCEPT
                   SELECT k.order_ref FROM pg_catalog.unnest(_refs) AS k (order_ref));
    IF pg_catalog.cardinality(_gone) > 0 THEN
        WITH gone AS (
            DELETE FROM skeldir.reconciliations AS r
             WHERE r.tenant_id = _reconcile_refs.tenant_id AND r.order_ref = ANY (_gone)
            RETURNING 1
        )
        SELECT _changed + pg_catalog.count(*) INTO _changed FROM gone;
    END IF;
    -- mv_reconciliation_status gets the deltas of what changed at commit (change read_model_upkeep).
    RETURN QUERY SELECT u.r, u.s FROM unnest(_refs, _statuses) AS u (r, s);  -- multi-array form: unqualified
END;
$$;
COMMENT ON FUNCTION skeldir._reconcile_refs(uuid, text[]) IS
    'Re-evaluate order references of a tenant in one pass; upsert (or delete) their reconciliation rows; returns each status.';

/** skeldir._reconcile_refs for one reference: its status, or NULL when no event carries it. */
CREATE FUNCTION skeldir._reconcile(tenant_id uuid, order_ref text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    RETURN (SELECT r.ref_status FROM skeldir._reconcile_refs(_reconcile.tenant_id, ARRAY[_reconcile.order_ref]) AS r);
END;
$$;
COMMENT ON FUNCTION skeldir._reconcile(uuid, text) IS
    'Re-evaluate one order reference of a tenant; upsert its reconciliation row; returns the status.';

/**
 * Re-evaluates every pending reconciliation whose grace period has ended, tenant by
 * tenant (the table FORCEs RLS, so each tenant's rows are reached under its own GUC), one
 * skeldir._reconcile_refs pass per tenant. Called by the pg_cron job
 * skeldir-reconciliation-pulse and the `reconcile_due` task. Returns how many rows changed
 * status (a row deleted because its events are gone counts as changed).
 */
CREATE FUNCTION skeldir.reconciliation_reevaluate() RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _tenant  uuid;
    _changed integer := 0;
    _refs    text[];
    _n       integer;
    _grace   interval := (SELECT s.reconciliation_grace FROM skeldir.settings AS s);
BEGIN
    FOR _tenant IN SELECT t.id FROM skeldir.tenants AS t ORDER BY t.id LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
        _refs := ARRAY(SELECT r.order_ref FROM skeldir.reconciliations AS r
                        WHERE r.tenant_id = _tenant AND r.status = 'pending'
                          AND r.first_seen_at <= pg_catalog.now() - _grace);  -- sargable: reconciliations_pending_idx
        IF pg_catalog.cardinality(_refs) > 0 THEN
            -- Every due row was pending: the ones still pending are the ones that did not change.
            SELECT pg_catalog.count(*) FILTER (WHERE r.ref_status = 'pending') INTO _n
              FROM skeldir._reconcile_refs(_tenant, _refs) AS r;
            _changed := _changed + pg_catalog.cardinality(_refs) - _n;
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
    RETURN _changed;
END;
$$;
COMMENT ON FUNCTION skeldir.reconciliation_reevaluate() IS
    'Re-evaluate pending reconciliations past their grace period, all tenants; returns rows changed.';

COMMIT;
