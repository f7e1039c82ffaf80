-- Revert skeldir:function_webhook_receive_batch from pg
-- Back to v1.0.0: the batch function gets its v1.0.0 body back (each delivery through the
-- single ingest path in its own subtransaction), then the set-based store is dropped.
BEGIN;

CREATE OR REPLACE FUNCTION api.webhook_receive_batch(
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

DROP FUNCTION skeldir._ingest_store_batch(integer[], skeldir.webhook_event[], text[], uuid[], jsonb[], text[], text[], jsonb[], bytea[], text[], integer[], text[], text[], text[]);
DROP FUNCTION skeldir._webhook_failed(text, text, jsonb, bytea, text, text, text);

COMMIT;
