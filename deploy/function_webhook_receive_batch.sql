-- Deploy skeldir:function_webhook_receive_batch to pg
--
-- Set-based writes per batch (issue 21, lever 2): the deliveries of a batch are prepared
-- one by one (skeldir._webhook_prepare) and their facts stored together, one tenant at a
-- time, with one event INSERT and one queue INSERT; a group that raises is stored again one
-- delivery at a time. Upgrades v1.0.0 in place (the batch function keeps its signature).
BEGIN;

/**
 * The answer of a delivery of a batch whose ingest raised: a data error (class 22, 23, 54:
 * the document's fault) is answered by skeldir._webhook_refused, 401 or a dead letter, as
 * api.webhook_receive does; anything else (a bug, a lock timeout, a deadlock with another
 * batch on the same fact), or a refusal that itself raised, is outcome 'error' with the
 * first SQLSTATE. Clears the tenant GUC first: the refusal resolves the tenant again.
 * PL/pgSQL for the exception block around the refusal.
 */
CREATE FUNCTION skeldir._webhook_failed(
    vendor text, route text, headers jsonb, body bytea, endpoint_token text, sqlstate text, message text,
    OUT http_status integer, OUT outcome text, OUT response text, OUT error_sqlstate text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _answer  record;
    _setting text;  -- set_config by assignment: a simple expression, where PERFORM runs the executor
BEGIN
    outcome := 'error';
    error_sqlstate := _webhook_failed.sqlstate;
    IF pg_catalog.left(_webhook_failed.sqlstate, 2) IN ('22', '23', '54') THEN
        BEGIN
            _setting := pg_catalog.set_config('app.current_tenant_id', '', true);
            _answer := skeldir._webhook_refused(vendor, route, headers, body, endpoint_token,
                                                _webhook_failed.sqlstate, message);
            http_status := _answer.http_status;
            outcome := _answer.outcome;
            response := _answer.response;
            error_sqlstate := NULL;
        EXCEPTION WHEN OTHERS THEN
            NULL;  -- the delivery is answered with its first error
        END;
    END IF;
END;
$$;
COMMENT ON FUNCTION skeldir._webhook_failed(text, text, jsonb, bytea, text, text, text) IS
    'The answer of a batch delivery that raised: 401 or dead letter for a data error (class 22/23/54), else outcome error with its SQLSTATE. Raises nothing.';

/**
 * Stores the prepared deliveries of a batch, set-based, one tenant at a time (RLS is forced
 * on the events, so one statement writes under one tenant GUC), tenants in uuid order.
 * Per tenant: one INSERT of all its facts into skeldir.attribution_events, ordered by
 * (vendor, fact_key, then batch order) so that concurrent batches wait for each other's
 * keys in one order, with ON CONFLICT on the dedupe key, and in the same statement one
 * INSERT of a queue message per new fact; then, only when some fact was not new, one
 * query for the ids already recorded. The answers are those skeldir._ingest_store gives
 * delivery by delivery in batch order: the first delivery carrying a fact stores it (it
 * comes first in its key's order), a later one in the batch finds it recorded.
 * Rows are facts: ords[i] is the delivery (index into the per-delivery arrays), facts[i]
 * a supported fact without a cumulative amount, customers[i] its delivery's customer hash;
 * a delivery's facts are consecutive, in its mapping's order. tenants, payloads, vendors,
 * routes, headers, bodies, endpoint_tokens are per delivery (the batch's arrays); the
 * answers are written into the INOUT arrays at each delivery's index.
 * When a tenant's statements raise (a value the table refuses, a lock wait longer than
 * the batch's lock_timeout, a bug), they are rolled back and that tenant's deliveries are
 * stored one at a time by skeldir._ingest_store, each in its own subtransaction, so the
 * error is answered for the delivery that caused it alone (skeldir._webhook_failed).
 * Leaves the tenant GUC set to the last tenant; the caller resets it.
 * plan_cache_mode: the statements take arrays as parameters, for which the plan cache
 * keeps choosing a custom plan, planned again on every call; with generic plans, planned
 * once per session, batches of 8 cost 0.93x the per-delivery path's CPU instead of 1.07x
 * (docs/BENCHMARKS.md). No table is read but by the dedupe key, so the generic plans are
 * the custom ones.
 */
CREATE FUNCTION skeldir._ingest_store_batch(
    ords integer[], facts skeldir.webhook_event[], customers text[],
    tenants uuid[], payloads jsonb[], vendors text[], routes text[], headers jsonb[], bodies bytea[],
    endpoint_tokens text[],
    INOUT http_status integer[], INOUT outcome text[], INOUT response text[], INOUT error_sqlstate text[])
LANGUAGE plpgsql VOLATILE SET search_path = '' SET plan_cache_mode = 'force_generic_plan' AS $$
DECLARE
    _rows      integer := pg_catalog.cardinality(_ingest_store_batch.ords);
    _tenant    uuid;
    _new_keys  text[];
    _new_ids   bigint[];
    _claimed   integer[];
    _row_id    bigint[];   -- per row: the new event id, or the recorded one (is_new tells)
    _row_new   boolean[];
    _mine      integer[];  -- the tenant's rows, in batch order
    _miss_rows integer[];  -- rows whose fact was recorded before this batch
    _known_ids bigint[];
    _k         integer;
    _r         integer;
    _ord       integer;
    _ids       bigint[];
    _known     bigint;
    _facts     skeldir.webhook_event[];
    _answer    record;
    _state     text;
    _message   text;
    _setting   text;  -- set_config by assignment: a simple expression, where PERFORM runs the executor
BEGIN
    IF _rows IS NULL OR _rows = 0 THEN
        RETURN;
    END IF;
    FOR _tenant, _mine IN
        SELECT _ingest_store_batch.tenants[_ingest_store_batch.ords[i]], pg_catalog.array_agg(i ORDER BY i)
          FROM pg_catalog.generate_subscripts(_ingest_store_batch.ords, 1) AS i
         GROUP BY 1 ORDER BY 1 LOOP
        BEGIN
            _setting := pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
            WITH stored AS (
                INSERT INTO skeldir.attribution_events AS ev
                       (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref,
                        amount_minor, currency, occurred_at, utm_source, utm_medium, utm_campaign, referrer,
                        landing_page, customer_ref, payload, route)
                SELECT _tenant, _ingest_store_batch.vendors[_ingest_store_batch.ords[r.ordinality]], r.topic, r.kind,
                       r.vendor_event_id, r.fact_key, r.order_ref, r.payment_ref, r.amount_minor, r.currency,
                       r.occurred_at, skeldir._redact_text(r.utm_source), skeldir._redact_text(r.utm_medium),
                       skeldir._redact_text(r.utm_campaign), skeldir._redact_text(r.referrer),
                       skeldir._redact_text(r.landing_page), _ingest_store_batch.customers[r.ordinality],
                       _ingest_store_batch.payloads[_ingest_store_batch.ords[r.ordinality]],
                       _ingest_store_batch.routes[_ingest_store_batch.ords[r.ordinality]]
                  FROM pg_catalog.unnest(_ingest_store_batch.facts) WITH ORDINALITY AS r  -- the fact's columns
                 WHERE _ingest_store_batch.tenants[_ingest_store_batch.ords[r.ordinality]] = _tenant
                 ORDER BY _ingest_store_batch.vendors[_ingest_store_batch.ords[r.ordinality]], r.fact_key, r.ordinality
                ON CONFLICT ON CONSTRAINT attribution_events_dedupe DO NOTHING
                RETURNING ev.id, ev.vendor, ev.fact_key
            ), queued AS (
                -- Same statement as the facts: either both exist or neither does. What
                -- pgmq.send('attribution', ...) does (pgmq 1.13, pinned), static and set-based.
                INSERT INTO pgmq.q_attribution (vt, message)
                SELECT pg_catalog.clock_timestamp(), pg_catalog.jsonb_build_object(
                           'task', 'allocate', 'tenant_id', _tenant, 'event_id', s.id)
                  FROM stored AS s
                 ORDER BY s.id
            )
            SELECT pg_catalog.array_agg(s.vendor || ':' || s.fact_key), pg_catalog.array_agg(s.id)
              INTO _new_keys, _new_ids
              FROM stored AS s;

            -- Each row's event: the first row of a new key stored it, any later one finds it.
            _claimed := '{}';
            _row_id := '{}';
            _row_new := '{}';
            _miss_rows := '{}';
            FOREACH _r IN ARRAY _mine LOOP
                _k := pg_catalog.array_position(_new_keys, vendors[ords[_r]] || ':' || (facts[_r]).fact_key);
                IF _k IS NULL THEN
                    _miss_rows := _miss_rows || _r;
                ELSE
                    _row_id[_r] := _new_ids[_k];
                    _row_new[_r] := NOT _k = ANY (_claimed);
                    _claimed := _claimed || _k;
                END IF;
            END LOOP;
            IF pg_catalog.cardinality(_miss_rows) > 0 THEN
                -- A statement after the INSERT: it sees what a concurrent batch committed while
                -- the INSERT waited on its key. One index lookup per row.
                _known_ids := ARRAY(
                    SELECT (SELECT ev.id FROM skeldir.attribution_events AS ev
                             WHERE ev.tenant_id = _tenant
                               AND ev.vendor = _ingest_store_batch.vendors[_ingest_store_batch.ords[m.r]]
                               AND ev.fact_key = (_ingest_store_batch.facts[m.r]).fact_key)
                      FROM pg_catalog.unnest(_miss_rows) WITH ORDINALITY AS m (r, n)
                     ORDER BY m.n);
                FOR _m IN 1 .. pg_catalog.cardinality(_miss_rows) LOOP
                    IF _known_ids[_m] IS NULL THEN  -- as SELECT ... INTO STRICT does one by one
                        RAISE EXCEPTION 'a fact that conflicted on its dedupe key is not there'
                            USING ERRCODE = 'no_data_found',
                                  DETAIL = pg_catalog.format('tenant %s, fact %s', _tenant, (facts[_miss_rows[_m]]).fact_key),
                                  HINT = 'Was it deleted concurrently? The deliveries are stored one by one instead.';
                    END IF;
                    _row_id[_miss_rows[_m]] := _known_ids[_m];
                    _row_new[_miss_rows[_m]] := false;
                END LOOP;
            END IF;

            -- The answers, as skeldir._ingest_store builds them.
            _ord := NULL;
            _mine := _mine || NULL::integer;  -- a last row that ends the last delivery
            FOREACH _r IN ARRAY _mine LOOP
                IF _r IS NULL OR ords[_r] IS DISTINCT FROM _ord THEN
                    IF _ord IS NOT NULL THEN
                        http_status[_ord] := 200;
                        IF pg_catalog.cardinality(_ids) > 0 THEN
                            outcome[_ord] := 'accepted';
                            response[_ord] := pg_catalog.jsonb_build_object(
                                'status', 'accepted', 'event_id', _ids[1], 'event_ids', _ids)::text;
                        ELSE
                            outcome[_ord] := 'duplicate';
                            response[_ord] := pg_catalog.jsonb_build_object('status', 'duplicate', 'event_id', _known)::text;
                        END IF;
                    END IF;
                    EXIT WHEN _r IS NULL;
                    _ord := ords[_r];
                    _ids := '{}';
                    _known := NULL;
                END IF;
                IF _row_new[_r] THEN
                    _ids := _ids || _row_id[_r];
                ELSE
                    _known := coalesce(_known, _row_id[_r]);
                END IF;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            -- The tenant's deliveries one at a time, each alone with its error.
            FOR _ord IN SELECT DISTINCT _ingest_store_batch.ords[m.r] FROM pg_catalog.unnest(_mine) AS m (r)
                         WHERE m.r IS NOT NULL ORDER BY 1 LOOP
                _facts := ARRAY(SELECT _ingest_store_batch.facts[i]
                                  FROM pg_catalog.generate_subscripts(_ingest_store_batch.ords, 1) AS i
                                 WHERE _ingest_store_batch.ords[i] = _ord ORDER BY i);
                BEGIN
                    _setting := pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
                    _answer := skeldir._ingest_store(_tenant, vendors[_ord], routes[_ord], _facts, payloads[_ord]);
                    http_status[_ord] := _answer.http_status;
                    outcome[_ord] := _answer.outcome;
                    response[_ord] := _answer.response;
                    error_sqlstate[_ord] := NULL;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS _state = RETURNED_SQLSTATE, _message = MESSAGE_TEXT;
                    _answer := skeldir._webhook_failed(vendors[_ord], routes[_ord], headers[_ord], bodies[_ord],
                                                       endpoint_tokens[_ord], _state, _message);
                    http_status[_ord] := _answer.http_status;
                    outcome[_ord] := _answer.outcome;
                    response[_ord] := _answer.response;
                    error_sqlstate[_ord] := _answer.error_sqlstate;
                END;
            END LOOP;
        END;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION skeldir._ingest_store_batch(integer[], skeldir.webhook_event[], text[], uuid[], jsonb[], text[], text[], jsonb[], bytea[], text[], integer[], text[], text[], text[]) IS
    'Set-based store of a batch''s prepared facts, per tenant: one event INSERT (ON CONFLICT) with its queue INSERT; answers as skeldir._ingest_store gives them; a tenant whose statements raise is stored one delivery at a time. Raises nothing of its own.';

/**
 * Group commit for webhook ingestion: the shell hands over the deliveries that arrived
 * while its previous calls were in flight, and they share one transaction (one commit,
 * one WAL flush, one round trip) instead of one each. Element i of every array is
 * delivery i; the answer has one row per delivery, in order (ord = i).
 *
 * Each delivery is prepared (skeldir._webhook_prepare: resolve, verify, parse, map,
 * writing only dead letters and counters) in its own subtransaction: a delivery that raises
 * is rolled back alone, and answered by skeldir._webhook_failed (401 or a dead letter for
 * a data error, as api.webhook_receive does; else outcome 'error' with its SQLSTATE).
 * The facts of the prepared deliveries are then stored together, per tenant, by
 * skeldir._ingest_store_batch (one event INSERT and one queue INSERT per tenant instead
 * of one each per fact; one delivery at a time if a tenant's statement raises). The
 * answers are those of single calls made in batch order: a delivery whose facts include a
 * cumulative refund level (its amount depends on what is recorded before it) is stored
 * alone, after what precedes it; one without a revenue fact is answered ignored at once.
 * The tenant GUC is cleared before every delivery so no delivery can run under its
 * predecessor's tenant, and the caller's is put back.
 * Concurrent batches can wait on each other (the same dedupe key, a daily counter row,
 * pgmq's notify throttle row) in a cycle; rather than waiting for the deadlock detector
 * (deadlock_timeout, 1 s), a lock wait longer than lock_wait (default 50 ms) fails the
 * delivery that waited (its tenant's set-based statement, then that delivery alone) with
 * 55P03, which the caller retries on its own after this commit.
 * The caller sends its 2xx answers only after this call returned, i.e. after the commit
 * (synchronous_commit on): durability is exactly that of single calls.
 *
 * Runs as its owner (app_user may not read tenants, secrets or events) so that it can call
 * the internal ingest path directly: through api.webhook_receive every delivery would pay
 * for a second, nested subtransaction. PL/pgSQL because per-delivery subtransactions need
 * an exception block in a loop.
 * At most 1000 deliveries; callers should keep batches under 64 so that the
 * subtransactions of one batch fit the per-backend subxid cache.
 */
CREATE OR REPLACE FUNCTION api.webhook_receive_batch(
    vendors text[], routes text[], headers jsonb[], bodies bytea[], endpoint_tokens text[],
    lock_wait interval DEFAULT '50 milliseconds')
RETURNS TABLE (ord integer, http_status integer, outcome text, response text, error_sqlstate text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _n             integer := pg_catalog.cardinality(webhook_receive_batch.bodies);
    _lock_timeout  text := pg_catalog.current_setting('lock_timeout');
    _caller_tenant text := pg_catalog.current_setting('app.current_tenant_id', true);
    _prepared      record;
    _answer        record;
    _e             skeldir.webhook_event;
    _supported     boolean;
    _cumulative    boolean;
    _alone         boolean;  -- a cumulative refund: stored by itself, after what precedes it
    _customer      text;
    _pending       integer;  -- facts waiting before this delivery's
    _state         text;
    _message       text;
    _setting       text;  -- set_config by assignment: a simple expression, where PERFORM runs the executor
    -- per delivery, by its index
    _status        integer[];
    _outcome       text[];
    _response      text[];
    _sqlstate      text[];
    _tenants       uuid[];
    _payloads      jsonb[];
    -- per fact waiting to be stored (skeldir._ingest_store_batch)
    _ords          integer[] := '{}';
    _facts         skeldir.webhook_event[] := '{}';
    _customers     text[] := '{}';
BEGIN
    IF _n IS NULL
       OR pg_catalog.cardinality(webhook_receive_batch.vendors) IS DISTINCT FROM _n
       OR pg_catalog.cardinality(webhook_receive_batch.routes) IS DISTINCT FROM _n
       OR pg_catalog.cardinality(webhook_receive_batch.headers) IS DISTINCT FROM _n
       OR pg_catalog.cardinality(webhook_receive_batch.endpoint_tokens) IS DISTINCT FROM _n THEN
        RAISE EXCEPTION 'webhook_receive_batch: the five arrays must have the same length'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('lengths: vendors %s, routes %s, headers %s, bodies %s, endpoint_tokens %s',
                      pg_catalog.cardinality(vendors), pg_catalog.cardinality(routes),
                      pg_catalog.cardinality(headers), _n, pg_catalog.cardinality(endpoint_tokens)),
                  HINT = 'Pass one element per delivery in every array (NULL endpoint token for header-keyed routes).';
    END IF;
    IF _n > 1000 THEN
        RAISE EXCEPTION 'webhook_receive_batch: % deliveries in one batch', _n
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'A batch holds at most 1000 deliveries.',
                  HINT = 'Split the deliveries into batches of at most 64.';
    END IF;

    _status := pg_catalog.array_fill(NULL::integer, ARRAY[_n]);
    _outcome := pg_catalog.array_fill(NULL::text, ARRAY[_n]);
    _response := _outcome;
    _sqlstate := _outcome;
    _tenants := pg_catalog.array_fill(NULL::uuid, ARRAY[_n]);
    _payloads := pg_catalog.array_fill(NULL::jsonb, ARRAY[_n]);

    _setting := pg_catalog.set_config('lock_timeout',
        (pg_catalog.date_part('epoch', webhook_receive_batch.lock_wait) * 1000)::bigint::text, true);
    FOR _i IN 1 .. _n LOOP
        _alone := false;
        BEGIN
            _setting := pg_catalog.set_config('app.current_tenant_id', '', true);
            -- Assignments, not SELECT ... FROM: a simple expression needs no executor.
            _prepared := skeldir._webhook_prepare(vendors[_i], routes[_i], headers[_i], bodies[_i], endpoint_tokens[_i]);
            IF _prepared.http_status IS NOT NULL THEN
                _status[_i] := _prepared.http_status;
                _outcome[_i] := _prepared.outcome;
                _response[_i] := _prepared.response;
            ELSE
                _tenants[_i] := _prepared.tenant_id;
                _payloads[_i] := _prepared.payload;
                -- Its facts wait to be stored with the batch's. Only the customer hash, before
                -- the first of them, can raise: a delivery waits whole or not at all.
                _pending := pg_catalog.cardinality(_ords);
                _supported := false;
                _cumulative := false;
                FOREACH _e IN ARRAY _prepared.facts LOOP
                    CONTINUE WHEN NOT _e.supported;
                    IF _e.cumulative_minor IS NOT NULL THEN
                        _cumulative := true;
                        EXIT;
                    END IF;
                    IF NOT _supported THEN
                        _customer := skeldir._customer_ref(_e.customer_email);
                        _supported := true;
                    END IF;
                    _ords := _ords || _i;
                    _facts := _facts || _e;
                    _customers := _customers || _customer;
                END LOOP;
                IF _cumulative THEN
                    _ords := _ords[1:_pending];
                    _facts := _facts[1:_pending];
                    _customers := _customers[1:_pending];
                    _alone := true;
                ELSIF NOT _supported THEN  -- ignored, and counted: nothing to store
                    _answer := skeldir._ingest_store(_prepared.tenant_id, vendors[_i], routes[_i],
                                                     _prepared.facts, _prepared.payload);
                    _status[_i] := _answer.http_status;
                    _outcome[_i] := _answer.outcome;
                    _response[_i] := _answer.response;
                END IF;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS _state = RETURNED_SQLSTATE, _message = MESSAGE_TEXT;
            _alone := false;
            _answer := skeldir._webhook_failed(vendors[_i], routes[_i], headers[_i], bodies[_i], endpoint_tokens[_i],
                                               _state, _message);
            _status[_i] := _answer.http_status;
            _outcome[_i] := _answer.outcome;
            _response[_i] := _answer.response;
            _sqlstate[_i] := _answer.error_sqlstate;
        END;
        IF _alone THEN
            -- What precedes it first: its amount is what exceeds the refunds recorded so far.
            IF pg_catalog.cardinality(_ords) > 0 THEN
                _answer := skeldir._ingest_store_batch(_ords, _facts, _customers, _tenants, _payloads,
                    vendors, routes, headers, bodies, endpoint_tokens, _status, _outcome, _response, _sqlstate);
                _status := _answer.http_status;
                _outcome := _answer.outcome;
                _response := _answer.response;
                _sqlstate := _answer.error_sqlstate;
                _ords := '{}';
                _facts := '{}';
                _customers := '{}';
            END IF;
            BEGIN
                _setting := pg_catalog.set_config('app.current_tenant_id', _tenants[_i]::text, true);
                _answer := skeldir._ingest_store(_tenants[_i], vendors[_i], routes[_i], _prepared.facts,
                                                 _prepared.payload);
                _status[_i] := _answer.http_status;
                _outcome[_i] := _answer.outcome;
                _response[_i] := _answer.response;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS _state = RETURNED_SQLSTATE, _message = MESSAGE_TEXT;
                _answer := skeldir._webhook_failed(vendors[_i], routes[_i], headers[_i], bodies[_i], endpoint_tokens[_i],
                                                   _state, _message);
                _status[_i] := _answer.http_status;
                _outcome[_i] := _answer.outcome;
                _response[_i] := _answer.response;
                _sqlstate[_i] := _answer.error_sqlstate;
            END;
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(_ords) > 0 THEN
        _answer := skeldir._ingest_store_batch(_ords, _facts, _customers, _tenants, _payloads,
            vendors, routes, headers, bodies, endpoint_tokens, _status, _outcome, _response, _sqlstate);
        _status := _answer.http_status;
        _outcome := _answer.outcome;
        _response := _answer.response;
        _sqlstate := _answer.error_sqlstate;
    END IF;
    _setting := pg_catalog.set_config('app.current_tenant_id', coalesce(_caller_tenant, ''), true);
    _setting := pg_catalog.set_config('lock_timeout', _lock_timeout, true);
    -- Simple expressions, not RETURN QUERY: a query over the arrays would be planned again
    -- on every call (a custom plan per call for array parameters).
    FOR _i IN 1 .. _n LOOP
        ord := _i;
        http_status := _status[_i];
        outcome := _outcome[_i];
        response := _response[_i];
        error_sqlstate := _sqlstate[_i];
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval) IS
    'Group commit: each delivery prepared in its own subtransaction, their facts stored set-based per tenant (one delivery at a time where a tenant''s statement raises), one transaction in all; one row per delivery, answers as single calls in batch order (outcome error + error_sqlstate when it raised). Raises 22023 (array lengths differ), 54000 (more than 1000 deliveries).';

COMMIT;
