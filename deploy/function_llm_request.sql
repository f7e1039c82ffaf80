-- Deploy skeldir:function_llm_request to pg
BEGIN;

/** The active tenant whose API key hashes to the given sha256; raises 28000 otherwise. */
CREATE FUNCTION skeldir._llm_tenant_by_key(tenant_key text) RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
    _tenant_id uuid;
BEGIN
    SELECT t.id INTO _tenant_id
      FROM skeldir.tenants AS t
     WHERE t.api_key_hash = pg_catalog.sha256(pg_catalog.convert_to(coalesce(tenant_key, ''), 'UTF8'))
       AND t.status = 'active';
    IF _tenant_id IS NULL THEN
        RAISE EXCEPTION 'unknown tenant key' USING ERRCODE = 'invalid_authorization_specification',
            HINT = 'Send the tenant API key in X-Skeldir-Tenant-Key.';
    END IF;
    RETURN _tenant_id;
END;
$$;
COMMENT ON FUNCTION skeldir._llm_tenant_by_key(text) IS 'Tenant of an API key. Raises 28000 for an unknown or suspended key.';

/**
 * Accepts one LLM request for a tenant, idempotently on (tenant, request_id):
 * validates task, request_id, user id and inputs (inputs.prompt a non-empty string of at
 * most 32000 characters, inputs.model optional and priced), stores the audit row (status
 * pending, prompt only as a keyed hash), the investigation / budget job row, and sends the
 * llm queue message, all in the caller's transaction. A repeated request_id with the same
 * task and inputs returns the first call (created = false) and writes nothing; with other
 * task or inputs it raises SK409. Bad input raises 22023 with DETAIL and HINT.
 */
CREATE FUNCTION skeldir._llm_request(
    tenant_id uuid, user_id text, task text, request_id text, inputs jsonb,
    OUT call_id bigint, OUT created boolean)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
#variable_conflict use_column
DECLARE
    _s        skeldir.llm_settings;
    _model    text;
    _provider text;
    _hash     bytea;
    _c        skeldir.llm_api_calls;
BEGIN
    IF _llm_request.task IS NULL
       OR _llm_request.task NOT IN ('route', 'explanation', 'investigation', 'budget_optimization') THEN
        RAISE EXCEPTION 'unknown LLM task %', coalesce(pg_catalog.left(_llm_request.task, 64), '(none)')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The task is the last segment of POST /api/llm/{task}.',
                  HINT = 'Tasks: route, explanation, investigation, budget_optimization.';
    END IF;
    IF _llm_request.request_id IS NULL OR _llm_request.request_id !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' THEN
        RAISE EXCEPTION 'request_id is missing or malformed' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'request_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (starting alphanumeric).',
            HINT = 'Send one unique request_id per logical request; a retry resends the same one.';
    END IF;
    IF _llm_request.user_id IS NULL OR pg_catalog.btrim(_llm_request.user_id) = ''
       OR pg_catalog.length(_llm_request.user_id) > 128 THEN
        RAISE EXCEPTION 'user id is missing or longer than 128 characters' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Send the requesting user in X-Skeldir-User-Id.';
    END IF;
    IF pg_catalog.jsonb_typeof(_llm_request.inputs) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'inputs must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Send {"request_id": "...", "inputs": {"prompt": "..."}}.';
    END IF;
    IF pg_catalog.jsonb_typeof(_llm_request.inputs -> 'prompt') IS DISTINCT FROM 'string'
       OR pg_catalog.btrim(_llm_request.inputs ->> 'prompt') = '' THEN
        RAISE EXCEPTION 'inputs.prompt must be a non-empty string' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Send {"request_id": "...", "inputs": {"prompt": "..."}}.';
    END IF;
    IF pg_catalog.length(_llm_request.inputs ->> 'prompt') > 32000
       OR pg_catalog.octet_length(_llm_request.inputs::text) > 131072 THEN
        RAISE EXCEPTION 'inputs too large' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'inputs.prompt may hold at most 32000 characters and inputs at most 128 KiB.';
    END IF;
    IF _llm_request.inputs ? 'model' AND pg_catalog.jsonb_typeof(_llm_request.inputs -> 'model') <> 'string' THEN
        RAISE EXCEPTION 'inputs.model must be a string' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT * INTO STRICT _s FROM skeldir.llm_settings;
    _model := coalesce(_llm_request.inputs ->> 'model', _s.default_model);
    SELECT p.provider INTO _provider FROM skeldir.llm_model_prices AS p WHERE p.model = _model;
    IF _provider IS NULL THEN
        RAISE EXCEPTION 'unknown model %', pg_catalog.left(_model, 64) USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Models: ' || (SELECT pg_catalog.string_agg(p.model, ', ' ORDER BY p.model)
                                    FROM skeldir.llm_model_prices AS p) || '.';
    END IF;
    -- Keyed, so that a short prompt cannot be found by hashing guesses; jsonb text is canonical.
    _hash := extensions.hmac(pg_catalog.convert_to(_llm_request.inputs::text, 'UTF8'), _s.prompt_hash_key, 'sha256');

    PERFORM pg_catalog.set_config('app.current_tenant_id', _llm_request.tenant_id::text, true);
    INSERT INTO skeldir.llm_api_calls AS c
           (tenant_id, request_id, user_id, task, prompt_hash, prompt_chars, provider, model, requested_model)
    VALUES (_llm_request.tenant_id, _llm_request.request_id, _llm_request.user_id, _llm_request.task, _hash,
            pg_catalog.length(_llm_request.inputs ->> 'prompt'), _provider, _model, _model)
    ON CONFLICT ON CONSTRAINT llm_api_calls_request_once DO NOTHING
    RETURNING c.id INTO call_id;

    IF call_id IS NULL THEN
        SELECT c.* INTO STRICT _c
          FROM skeldir.llm_api_calls AS c
         WHERE c.tenant_id = _llm_request.tenant_id AND c.request_id = _llm_request.request_id;
        IF _c.task <> _llm_request.task OR _c.prompt_hash <> _hash THEN
            RAISE EXCEPTION 'request_id % was already used for a different request', _llm_request.request_id
                USING ERRCODE = 'SK409',
                      DETAIL = pg_catalog.format('call %s was requested as task %s with other inputs.', _c.id, _c.task),
                      HINT = 'Use a new request_id for a new request; a retry must resend the same body.';
        END IF;
        call_id := _c.id;
        created := false;
        RETURN;
    END IF;

    IF _llm_request.task = 'investigation' THEN
        INSERT INTO skeldir.llm_investigations (tenant_id, call_id, request_id)
        VALUES (_llm_request.tenant_id, call_id, _llm_request.request_id);
    ELSIF _llm_request.task = 'budget_optimization' THEN
        INSERT INTO skeldir.llm_budget_jobs (tenant_id, call_id, request_id)
        VALUES (_llm_request.tenant_id, call_id, _llm_request.request_id);
    END IF;
    -- Same transaction as the audit row: a call is queued if and only if it is recorded.
    -- The message carries the inputs for the worker; they are stripped before archiving.
    PERFORM pgmq.send('llm', pg_catalog.jsonb_build_object(
        'task', _llm_request.task, 'tenant_id', _llm_request.tenant_id, 'call_id', call_id,
        'request_id', _llm_request.request_id, 'inputs', _llm_request.inputs));
    created := true;
END;
$$;
COMMENT ON FUNCTION skeldir._llm_request(uuid, text, text, text, jsonb) IS
    'Record and enqueue one LLM request, idempotent on (tenant, request_id). Raises 22023 bad input, SK409 request_id reuse.';

/**
 * POST /api/llm/{task}: the shell passes the tenant key and user id headers, the task
 * from the path and the raw body; this authenticates (28000 -> 401), parses and validates
 * (22023 -> 400, SK409 -> 409), records and enqueues. Returns 202 and the call JSON (with
 * its status_url) for a new request, 200 and the same call for a repeated request_id.
 * Runs as its owner: app_user may read neither tenants nor the audit tables, nor touch
 * pgmq; the tenant GUC is set transaction-locally before any tenant row is written.
 */
CREATE FUNCTION api.llm_request_http(
    tenant_key text, user_id text, task text, body bytea, OUT http_status integer, OUT response text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _tenant_id uuid;
    _doc       jsonb;
    _call_id   bigint;
    _created   boolean;
    _c         skeldir.llm_api_calls;
BEGIN
    _tenant_id := skeldir._llm_tenant_by_key(llm_request_http.tenant_key);
    BEGIN
        _doc := pg_catalog.convert_from(llm_request_http.body, 'UTF8')::jsonb;
    EXCEPTION
        WHEN invalid_text_representation OR character_not_in_repertoire OR untranslatable_character
             OR statement_too_complex OR program_limit_exceeded THEN
            -- No SQLERRM in the message: it would quote the body, which may hold the prompt.
            RAISE EXCEPTION 'request body is not valid UTF-8 JSON' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Send {"request_id": "...", "inputs": {"prompt": "..."}}.';
    END;
    IF pg_catalog.jsonb_typeof(_doc) IS DISTINCT FROM 'object'
       OR pg_catalog.jsonb_typeof(_doc -> 'request_id') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'request_id (a string) is required' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Send {"request_id": "...", "inputs": {"prompt": "..."}}.';
    END IF;
    SELECT r.call_id, r.created INTO _call_id, _created
      FROM skeldir._llm_request(_tenant_id, llm_request_http.user_id, llm_request_http.task,
                                _doc ->> 'request_id', _doc -> 'inputs') AS r;
    SELECT c.* INTO STRICT _c FROM skeldir.llm_api_calls AS c WHERE c.tenant_id = _tenant_id AND c.id = _call_id;
    http_status := CASE WHEN _created THEN 202 ELSE 200 END;
    response := (skeldir._llm_call_json(_c) || pg_catalog.jsonb_build_object('duplicate', NOT _created))::text;
END;
$$;
COMMENT ON FUNCTION api.llm_request_http(text, text, text, bytea) IS
    'POST /api/llm/{task}: 202 new, 200 repeated request_id. Raises 28000 unknown key, 22023 bad input, SK409 request_id reuse.';
REVOKE ALL ON FUNCTION api.llm_request_http(text, text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.llm_request_http(text, text, text, bytea) TO app_rw;

/**
 * The same request from SQL, for the tenant of the current transaction (api.tenant_set):
 * SELECT api.llm_request('explanation', 'req-1', '{"prompt": "..."}', 'analyst@ops').
 * Returns the call JSON with "duplicate". Raises 28000 without a tenant GUC, 22023, SK409.
 * Runs as its owner for the same reasons as api.llm_request_http.
 */
CREATE FUNCTION api.llm_request(task text, request_id text, inputs jsonb, user_id text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _tenant_id uuid := skeldir.current_tenant_id();
    _call_id   bigint;
    _created   boolean;
    _c         skeldir.llm_api_calls;
BEGIN
    IF _tenant_id IS NULL THEN
        RAISE EXCEPTION 'no tenant in this transaction' USING ERRCODE = 'invalid_authorization_specification',
            HINT = 'Call SELECT api.tenant_set(''<tenant id>'') in the same transaction first.';
    END IF;
    SELECT r.call_id, r.created INTO _call_id, _created
      FROM skeldir._llm_request(_tenant_id, llm_request.user_id, llm_request.task, llm_request.request_id,
                                llm_request.inputs) AS r;
    SELECT c.* INTO STRICT _c FROM skeldir.llm_api_calls AS c WHERE c.tenant_id = _tenant_id AND c.id = _call_id;
    RETURN skeldir._llm_call_json(_c) || pg_catalog.jsonb_build_object('duplicate', NOT _created);
END;
$$;
COMMENT ON FUNCTION api.llm_request(text, text, jsonb, text) IS
    'Request an LLM task for the current tenant. Raises 28000 no tenant GUC, 22023 bad input, SK409 request_id reuse.';
REVOKE ALL ON FUNCTION api.llm_request(text, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.llm_request(text, text, jsonb, text) TO app_rw;

/**
 * GET /api/llm/calls/{request_id}: the call's outcome as JSON (200). Raises 28000 for an
 * unknown key and SK404 when the tenant has no call with that request_id.
 * Runs as its owner: authenticates by key hash, which app_user cannot read.
 */
CREATE FUNCTION api.llm_call_http(tenant_key text, request_id text, OUT http_status integer, OUT response text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _tenant_id uuid;
    _c         skeldir.llm_api_calls;
BEGIN
    _tenant_id := skeldir._llm_tenant_by_key(llm_call_http.tenant_key);
    PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant_id::text, true);
    SELECT c.* INTO _c
      FROM skeldir.llm_api_calls AS c
     WHERE c.tenant_id = _tenant_id AND c.request_id = llm_call_http.request_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no LLM call with this request_id' USING ERRCODE = 'SK404',
            HINT = 'Use the request_id sent with POST /api/llm/{task}.';
    END IF;
    http_status := 200;
    response := skeldir._llm_call_json(_c)::text;
END;
$$;
COMMENT ON FUNCTION api.llm_call_http(text, text) IS
    'GET /api/llm/calls/{request_id}. Raises 28000 unknown key, SK404 unknown request_id.';
REVOKE ALL ON FUNCTION api.llm_call_http(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.llm_call_http(text, text) TO app_rw;

COMMIT;
