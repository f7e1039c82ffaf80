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
LANGUAGE plpgsql IMMUTABLE AS $$
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
 * Re-evaluates one order reference of the current tenant from its canonical events: the
 * latest event of kind order (by occurred_at, id) against the sum of the events of kind
 * payment with that order_ref, whatever vendor sent them. Upserts the row (or deletes it
 * if no event carries the reference any more) and marks mv_reconciliation_status dirty
 * when the status or amounts change. Idempotent. Runs under the caller's tenant GUC.
 */
CREATE FUNCTION skeldir._reconcile(tenant_id uuid, order_ref text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _r      record;
    _o      record;
    _status text;
    _n      integer;
BEGIN
    -- Plain aggregates (no ordered or DISTINCT ones, which sort) over the reference's events,
    -- then the latest order by index order (attribution_events_order_ref_idx).
    SELECT pg_catalog.count(*) FILTER (WHERE e.kind = 'payment')::integer AS payments,
           pg_catalog.sum(e.amount_minor) FILTER (WHERE e.kind = 'payment')::bigint AS payment_minor,
           pg_catalog.min(e.currency) FILTER (WHERE e.kind = 'payment') AS payment_currency,
           pg_catalog.max(e.currency) FILTER (WHERE e.kind = 'payment') AS payment_currency_max,
           pg_catalog.count(*) FILTER (WHERE e.kind = 'order') AS orders,
           pg_catalog.min(e.received_at) AS first_seen_at,
           (SELECT s.reconciliation_grace FROM skeldir.settings AS s) AS grace  -- same query, no second one
      INTO _r
      FROM skeldir.attribution_events AS e
     WHERE e.tenant_id = _reconcile.tenant_id AND e.order_ref = _reconcile.order_ref
       AND e.kind IN ('order', 'payment');
    IF _r.orders > 0 THEN
        SELECT e.id, e.amount_minor, e.currency INTO _o
          FROM skeldir.attribution_events AS e
         WHERE e.tenant_id = _reconcile.tenant_id AND e.order_ref = _reconcile.order_ref AND e.kind = 'order'
         ORDER BY e.occurred_at DESC, e.id DESC
         LIMIT 1;
    ELSE
        SELECT NULL::bigint AS id, NULL::bigint AS amount_minor, NULL::char(3) AS currency INTO _o;
    END IF;
    IF _r.payment_currency IS DISTINCT FROM _r.payment_currency_max THEN
        _r.payment_currency := NULL;  -- payments in several currencies never match one order
    END IF;

    IF _r.first_seen_at IS NULL THEN
        DELETE FROM skeldir.reconciliations AS r
         WHERE r.tenant_id = _reconcile.tenant_id AND r.order_ref = _reconcile.order_ref;
        RETURN NULL;
    END IF;
    _status := skeldir._reconciliation_status(_o.id IS NOT NULL, _o.amount_minor, _o.currency::text,
                                              _r.payments > 0, _r.payment_minor, _r.payment_currency::text,
                                              _r.first_seen_at, pg_catalog.now(), _r.grace);
    INSERT INTO skeldir.reconciliations AS r
           (tenant_id, order_ref, status, order_event_id, order_minor, order_currency,
            payment_count, payment_minor, payment_currency, first_seen_at)
    VALUES (_reconcile.tenant_id, _reconcile.order_ref, _status, _o.id, _o.amount_minor, _o.currency,
            _r.payments, _r.payment_minor, _r.payment_currency, _r.first_seen_at)
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
            excluded.payment_count, excluded.payment_minor, excluded.payment_currency, excluded.first_seen_at);
    GET DIAGNOSTICS _n = ROW_COUNT;
    IF _n > 0 THEN
        PERFORM skeldir._matview_touch('{mv_reconciliation_status}');
    END IF;
    RETURN _status;
END;
$$;
COMMENT ON FUNCTION skeldir._reconcile(uuid, text) IS
    'Re-evaluate one order reference of a tenant; upsert its reconciliation row; returns the status.';

/**
 * Re-evaluates every pending reconciliation whose grace period has ended, tenant by
 * tenant (the table FORCEs RLS, so each tenant's rows are reached under its own GUC).
 * Called by the pg_cron job skeldir-reconciliation-pulse and the `reconcile_due` task.
 * Returns how many rows changed status.
 */
CREATE FUNCTION skeldir.reconciliation_reevaluate() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _tenant  uuid;
    _changed integer := 0;
    _prior   text;
    _ref     text;
    _grace   interval := (SELECT s.reconciliation_grace FROM skeldir.settings AS s);
BEGIN
    FOR _tenant IN SELECT t.id FROM skeldir.tenants AS t ORDER BY t.id LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
        FOR _ref, _prior IN
            SELECT r.order_ref, r.status FROM skeldir.reconciliations AS r
             WHERE r.tenant_id = _tenant AND r.status = 'pending' AND r.first_seen_at + _grace <= pg_catalog.now()
        LOOP
            IF skeldir._reconcile(_tenant, _ref) IS DISTINCT FROM _prior THEN
                _changed := _changed + 1;
            END IF;
        END LOOP;
    END LOOP;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
    RETURN _changed;
END;
$$;
COMMENT ON FUNCTION skeldir.reconciliation_reevaluate() IS
    'Re-evaluate pending reconciliations past their grace period, all tenants; returns rows changed.';

COMMIT;
