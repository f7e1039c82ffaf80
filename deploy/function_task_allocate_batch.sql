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
LANGUAGE plpgsql VOLATILE AS $$
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

/**
 * The poller's whole SQL side, one transaction per batch: read up to `batch` messages
 * (pgmq.read takes them FOR UPDATE SKIP LOCKED, so concurrent workers never share one).
 * On the attribution queue the `allocate` tasks go first through skeldir._allocate_batch,
 * one set-based pass per tenant in its own subtransaction under the tenant's GUC; a pass
 * that raises is rolled back whole and its tenant's tasks run one by one below, so one bad
 * event still fails alone. Every other message runs through skeldir._task_run (its own
 * subtransaction: succeeded, retried or failed); the successes are archived in one call at
 * the end (same transaction as the writes).
 * A worker killed mid-batch rolls all of it back: the messages are visible again and no
 * handler effect survives, so nothing is lost and nothing is applied twice.
 * Returns one row per message, in msg_id order (a set-based pass's messages share its time).
 * Runs as its owner: app_user may not touch pgmq or tables.
 * Raises 22023 for an unknown queue or a batch outside 1..1000.
 */
CREATE OR REPLACE FUNCTION api.task_run_batch(queue text, batch integer DEFAULT 100)
RETURNS TABLE (msg_id bigint, task text, outcome text, attempts integer, duration_ms double precision, error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _s       skeldir.settings;
    _msgs    pgmq.message_record[];
    _m       pgmq.message_record;
    _r       record;
    _t0      timestamptz;
    _done    bigint[] := '{}';
    _fast    bigint[] := '{}';  -- msg ids the set-based passes took care of
    _fast_ms double precision := 0;
    _tenant  uuid;
    _events  bigint[];
    _handled bigint[];
BEGIN
    IF task_run_batch.queue IS NULL OR task_run_batch.queue NOT IN ('attribution', 'maintenance', 'housekeeping') THEN
        RAISE EXCEPTION 'unknown queue %', task_run_batch.queue USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Queues run in SQL: attribution, maintenance, housekeeping.';
    END IF;
    IF task_run_batch.batch IS NULL OR task_run_batch.batch NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'batch must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO _s FROM skeldir.settings;
    PERFORM pg_catalog.set_config('skeldir.matview_touch_deferred', 'on', true);
    _msgs := ARRAY(SELECT r FROM pgmq.read(task_run_batch.queue, _s.task_visibility_timeout, task_run_batch.batch) AS r
                    ORDER BY r.msg_id);

    IF task_run_batch.queue = 'attribution' THEN
        _t0 := pg_catalog.clock_timestamp();
        -- Only well-formed allocate messages: a bad tenant or event id fails alone below.
        FOR _tenant, _events IN
            SELECT (r.message ->> 'tenant_id')::uuid, pg_catalog.array_agg((r.message ->> 'event_id')::bigint)
              FROM pg_catalog.unnest(_msgs) AS r
             WHERE r.message ->> 'task' = 'allocate'
               AND r.message ->> 'tenant_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
               AND r.message ->> 'event_id' ~ '^[0-9]{1,18}$'
             GROUP BY 1
             ORDER BY 1
        LOOP
            BEGIN
                PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
                _handled := skeldir._allocate_batch(_tenant, _events);
                _fast := _fast || ARRAY(
                    SELECT r.msg_id FROM pg_catalog.unnest(_msgs) AS r
                     WHERE r.message ->> 'task' = 'allocate' AND r.message ->> 'tenant_id' = _tenant::text
                       AND r.message ->> 'event_id' = ANY (_handled::text[]));
            EXCEPTION WHEN OTHERS THEN
                NULL;  -- rolled back whole: this tenant's tasks run one by one below, each failing alone
            END;
        END LOOP;
        _fast_ms := extract(epoch FROM pg_catalog.clock_timestamp() - _t0) * 1000
                    / GREATEST(pg_catalog.cardinality(_fast), 1);
    END IF;

    FOREACH _m IN ARRAY _msgs LOOP
        msg_id := _m.msg_id;
        task := coalesce(_m.message ->> 'task', '(none)');
        attempts := _m.read_ct;
        IF _m.msg_id = ANY (_fast) THEN
            outcome := 'succeeded';
            error := NULL;
            duration_ms := _fast_ms;
        ELSE
            _t0 := pg_catalog.clock_timestamp();
            _r := skeldir._task_run(task_run_batch.queue, _m, _s);
            outcome := _r.outcome;
            error := _r.error;
            duration_ms := extract(epoch FROM pg_catalog.clock_timestamp() - _t0) * 1000;
        END IF;
        IF outcome = 'succeeded' THEN
            _done := _done || _m.msg_id;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF pg_catalog.cardinality(_done) > 0 THEN
        PERFORM pgmq.archive(task_run_batch.queue, _done);
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
    PERFORM skeldir._matview_flush();
END;
$$;
COMMENT ON FUNCTION api.task_run_batch(text, integer) IS
    'Run up to `batch` tasks of a queue (allocate tasks set-based per tenant): archive, retry with backoff, or capture in worker_failed_jobs. Raises 22023.';

COMMIT;
