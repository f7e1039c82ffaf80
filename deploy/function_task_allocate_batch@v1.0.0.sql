-- Deploy skeldir:function_task_allocate_batch to pg
BEGIN;

/**
 * The `allocate` task for many orders and payments of one tenant at once, exactly as
 * skeldir._task_allocate allocates them one by one: split by the tenant's model over
 * skeldir._touchpoints, one INSERT for the whole set, then one skeldir._reconcile_refs pass
 * over their order references, and the views marked dirty once. Returns the ids it took
 * care of, allocated now or already allocated before (idempotent); every other id of
 * event_ids (refunds, which depend on the allocation of what they refund, and unknown
 * events) is left to skeldir._task_allocate. Runs under the caller's tenant GUC, which
 * must be tenant_id.
 */
CREATE FUNCTION skeldir._allocate_batch(tenant_id uuid, event_ids bigint[]) RETURNS bigint[]
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _handled bigint[];
    _refs    text[];
    _n       bigint;
BEGIN
    WITH ev AS (
        SELECT e AS event, t.allocation_model AS model,
               EXISTS (SELECT FROM skeldir.allocations AS a WHERE a.tenant_id = e.tenant_id AND a.event_id = e.id) AS allocated
          FROM skeldir.attribution_events AS e
          JOIN skeldir.tenants AS t ON t.id = e.tenant_id
         WHERE e.tenant_id = _allocate_batch.tenant_id AND e.id = ANY (_allocate_batch.event_ids)
           AND e.kind IN ('order', 'payment')
    ), ins AS (
        INSERT INTO skeldir.allocations (tenant_id, event_id, kind, channel, model, amount_minor, currency, occurred_at)
        SELECT _allocate_batch.tenant_id, (ev.event).id, (ev.event).kind, s.channel, ev.model, s.amount_minor,
               (ev.event).currency, (ev.event).occurred_at
          FROM ev
         CROSS JOIN LATERAL skeldir._allocation_model((ev.event).amount_minor, ev.model,
                                                      skeldir._touchpoints(ev.event, ev.model)) AS s
         WHERE NOT ev.allocated
         ORDER BY (ev.event).id, s.channel
        RETURNING 1
    )
    SELECT pg_catalog.array_agg((ev.event).id),
           pg_catalog.array_agg(DISTINCT (ev.event).order_ref) FILTER (WHERE (ev.event).order_ref IS NOT NULL AND NOT ev.allocated),
           (SELECT pg_catalog.count(*) FROM ins)
      INTO _handled, _refs, _n
      FROM ev;
    IF _n > 0 THEN
        -- Reconciled in the same transaction as the allocation, as skeldir._task_allocate does.
        IF _refs IS NOT NULL THEN
            PERFORM FROM skeldir._reconcile_refs(_allocate_batch.tenant_id, _refs);
        END IF;
        -- The four read-model tables get their deltas at commit (change read_model_upkeep).
        PERFORM skeldir._matview_touch('{mv_realtime_revenue}');
    END IF;
    RETURN coalesce(_handled, '{}');
END;
$$;
COMMENT ON FUNCTION skeldir._allocate_batch(uuid, bigint[]) IS
    'allocate for many orders and payments of a tenant in one pass (idempotent); returns the ids handled, the rest are left to _task_allocate.';

COMMIT;
