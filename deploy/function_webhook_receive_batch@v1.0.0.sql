-- Deploy skeldir:function_webhook_receive_batch to pg
BEGIN;

/**
 * Group commit for webhook ingestion: the shell hands over the deliveries that arrived
 * while its previous calls were in flight, and they share one transaction (one commit,
 * one WAL flush, one round trip) instead of one each. Element i of every array is
 * delivery i; the answer has one row per delivery, in order (ord = i).
 *
 * Each delivery runs skeldir._webhook_receive, the single ingest path, in its own
 * subtransaction: a delivery that raises is rolled back alone and its neighbours still
 * commit. A data error (class 22, 23, 54: the document's fault) is then answered by
 * skeldir._webhook_refused, 401 or a dead letter, as api.webhook_receive does; anything
 * else (a bug, a lock timeout, a deadlock with another batch on the same fact) is answered
 * with outcome 'error' and its SQLSTATE. The tenant GUC is cleared before every delivery
 * so no delivery can run under its predecessor's tenant, and the caller's is put back.
 * Concurrent batches can wait on each other (the same dedupe key, a daily counter row,
 * pgmq's notify throttle row) in a cycle; rather than waiting for the deadlock detector
 * (deadlock_timeout, 1 s), a lock wait longer than lock_wait (default 50 ms) fails just
 * that delivery with 55P03, which the caller retries on its own after this commit.
 * The caller sends its 2xx answers only after this call returned, i.e. after the commit
 * (synchronous_commit on): durability is exactly that of single calls.
 *
 * Runs as its owner (app_user may not read tenants, secrets or events) so that it can call
 * skeldir._webhook_receive directly: through api.webhook_receive every delivery would pay
 * for a second, nested subtransaction. PL/pgSQL because per-delivery subtransactions need
 * an exception block in a loop.
 * At most 1000 deliveries; callers should keep batches under 64 so that the
 * subtransactions of one batch fit the per-backend subxid cache.
 */
CREATE FUNCTION api.webhook_receive_batch(
    vendors text[], routes text[], headers jsonb[], bodies bytea[], endpoint_tokens text[],
    lock_wait interval DEFAULT '50 milliseconds')
RETURNS TABLE (ord integer, http_status integer, outcome text, response text, error_sqlstate text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _n             integer := pg_catalog.cardinality(webhook_receive_batch.bodies);
    _lock_timeout  text := pg_catalog.current_setting('lock_timeout');
    _caller_tenant text := pg_catalog.current_setting('app.current_tenant_id', true);
    _answer        record;
    _message       text;
    _setting      text;  -- set_config by assignment: a simple expression, where PERFORM runs the executor
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

    _setting := pg_catalog.set_config('lock_timeout',
        (pg_catalog.date_part('epoch', webhook_receive_batch.lock_wait) * 1000)::bigint::text, true);
    FOR _i IN 1 .. _n LOOP
        ord := _i;
        error_sqlstate := NULL;
        BEGIN
            _setting := pg_catalog.set_config('app.current_tenant_id', '', true);
            -- An assignment, not SELECT ... FROM: a simple expression needs no executor.
            _answer := skeldir._webhook_receive(vendors[_i], routes[_i], headers[_i], bodies[_i], endpoint_tokens[_i]);
            http_status := _answer.http_status;
            outcome := _answer.outcome;
            response := _answer.response;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS error_sqlstate = RETURNED_SQLSTATE, _message = MESSAGE_TEXT;
            http_status := NULL;
            outcome := 'error';
            response := NULL;
            IF pg_catalog.left(error_sqlstate, 2) IN ('22', '23', '54') THEN
                BEGIN
                    _setting := pg_catalog.set_config('app.current_tenant_id', '', true);
                    _answer := skeldir._webhook_refused(vendors[_i], routes[_i], headers[_i], bodies[_i],
                                                        endpoint_tokens[_i], error_sqlstate, _message);
                    http_status := _answer.http_status;
                    outcome := _answer.outcome;
                    response := _answer.response;
                    error_sqlstate := NULL;
                EXCEPTION WHEN OTHERS THEN
                    NULL;  -- the delivery is answered with its first error, as before
                END;
            END IF;
        END;
        RETURN NEXT;
    END LOOP;
    _setting := pg_catalog.set_config('app.current_tenant_id', coalesce(_caller_tenant, ''), true);
    _setting := pg_catalog.set_config('lock_timeout', _lock_timeout, true);
END;
$$;
COMMENT ON FUNCTION api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval) IS
    'Group commit: the single ingest path for each delivery, each in its own subtransaction, one transaction in all; one row per delivery (outcome error + error_sqlstate when it raised). Raises 22023 (array lengths differ), 54000 (more than 1000 deliveries).';
REVOKE ALL ON FUNCTION api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval) TO app_rw;

COMMIT;
