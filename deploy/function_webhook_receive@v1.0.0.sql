-- Deploy skeldir:function_webhook_receive to pg
BEGIN;

/**
 * The non-secret headers worth keeping with a dead letter so that it can be replayed.
 * The helpers of the ingest path are PL/pgSQL even where one query would do: a SQL
 * function called inside a subtransaction (each delivery of a group-commit batch runs in
 * one) is parsed and planned again on every call, while PL/pgSQL keeps its plans for the
 * session (docs/BENCHMARKS.md).
 */
CREATE FUNCTION skeldir._routing_headers(headers jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
    RETURN (SELECT coalesce(pg_catalog.jsonb_object_agg(h.key, h.value), '{}'::jsonb)
      FROM pg_catalog.jsonb_each(headers) AS h
     WHERE h.key = ANY ('{content-type,x-shopify-topic,x-shopify-webhook-id,x-shopify-event-id,
                         x-shopify-shop-domain,shopify-topic,shopify-webhook-id,shopify-event-id,
                         shopify-shop-domain,x-wc-webhook-topic,x-wc-webhook-resource,
                         x-wc-webhook-event,x-wc-webhook-id,x-wc-webhook-delivery-id,webhook-id,
                         webhook-timestamp,paypal-transmission-id,paypal-transmission-time,
                         paypal-auth-algo}'::text[]));
END;
$$;
COMMENT ON FUNCTION skeldir._routing_headers(jsonb) IS 'Allow-listed, non-secret delivery headers.';

/**
 * Stores a dead letter and builds the 200 dead_lettered answer. payload is the vendor's
 * projection of the document (skeldir._project_<vendor>), built by the caller; a non-JSON body is kept only as its
 * sha256 and length (payload NULL). A replay that fails again (replayed_from set) writes
 * nothing new: the caller records the new reason on the original row.
 */
CREATE FUNCTION skeldir._dead_letter(
    tenant_id uuid, vendor text, route text, headers jsonb, payload jsonb, body_sha256 bytea,
    body_bytes integer, reason text, detail text, replayed_from bigint DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _id bigint := _dead_letter.replayed_from;
BEGIN
    IF _id IS NULL THEN
        INSERT INTO skeldir.dead_letters
               (tenant_id, vendor, route, reason, detail, headers, payload, body_sha256, body_bytes)
        VALUES (_dead_letter.tenant_id, _dead_letter.vendor, _dead_letter.route, _dead_letter.reason,
                pg_catalog.left(_dead_letter.detail, 500), skeldir._routing_headers(_dead_letter.headers),
                _dead_letter.payload, _dead_letter.body_sha256, _dead_letter.body_bytes)
        RETURNING id INTO _id;
    END IF;
    http_status := 200;
    outcome := 'dead_lettered';
    response := pg_catalog.jsonb_build_object('status', 'dead_lettered', 'dead_event_id', _id,
                                              'reason', _dead_letter.reason)::text;
END;
$$;
COMMENT ON FUNCTION skeldir._dead_letter(uuid, text, text, jsonb, jsonb, bytea, integer, text, text, bigint) IS
    'Writes a dead letter with the vendor''s projection (not on replay); returns the dead_lettered answer.';

/** Counts an outcome that stores no row of its own (unauthorized, ignored). */
CREATE FUNCTION skeldir._ingest_count(tenant_id uuid, vendor text, outcome text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    INSERT INTO skeldir.ingest_counters AS c (tenant_id, vendor, day, outcome, count)
    VALUES (_ingest_count.tenant_id, _ingest_count.vendor, pg_catalog.now()::date, _ingest_count.outcome, 1)
    ON CONFLICT ON CONSTRAINT ingest_counters_pkey DO UPDATE SET count = c.count + 1;
END;
$$;
COMMENT ON FUNCTION skeldir._ingest_count(uuid, text, text) IS 'Increments a daily ingest counter.';

/**
 * Steps 3-6 of SPEC §5 for an already authenticated delivery whose body parsed as JSON
 * (or NULL when it did not): project, map to facts, dedupe each fact, store, enqueue.
 * What is stored of the document, with its facts or in its dead letter, is the vendor's
 * projection (skeldir._project_<vendor>): the fields its mapping reads, nothing else.
 * Also the replay path for dead letters (replayed_from: the dead letter's id). Runs inside
 * the caller's transaction with the tenant GUC already set. Each vendor's mapping is the
 * function skeldir._map_<vendor>(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[],
 * one sqitch change per vendor, called statically (one cached plan per branch).
 * Everything that can refuse a document (a document too deep for the stack, a mapping's
 * SK422, a value that cannot be converted, a field too long to store or index) runs in
 * one exception block that writes nothing, so it costs one subtransaction without a
 * subtransaction id: under group commit every delivery already has one of those for itself.
 * Each fact is stored once per (tenant, vendor, fact_key); a fact that is a level of a
 * cumulative refund total (Stripe) stores only what exceeds the refunds already recorded
 * for its payment, under a transaction-scoped advisory lock per payment. Answers:
 * accepted (event_id: the first new fact, event_ids: all new facts) when at least one fact
 * is new, duplicate (event_id: the first fact already recorded) when none is, ignored when
 * the delivery carries no revenue fact.
 */
CREATE FUNCTION skeldir._ingest_document(
    tenant_id uuid, vendor text, route text, headers jsonb, doc jsonb, body_sha256 bytea,
    body_bytes integer, replayed_from bigint DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _facts    skeldir.webhook_event[];
    _e        skeldir.webhook_event;
    _payload  jsonb;
    _reason   text;
    _detail   text;
    _answer   record;
    _ids      bigint[] := '{}';
    _known    bigint;  -- the first fact of the delivery that was already recorded
    _id       bigint;
    _recorded bigint;
    _customer text;
BEGIN
    BEGIN
        IF pg_catalog.jsonb_typeof(doc) IS DISTINCT FROM 'object' THEN
            _reason := 'not_an_object';
            _detail := pg_catalog.format('top-level JSON value is %s', coalesce(pg_catalog.jsonb_typeof(doc), 'missing'));
        -- A branch is planned only when taken, so a vendor whose map change is not deployed fails alone.
        -- The projection first: a document the mapping refuses is dead-lettered with it.
        ELSIF vendor = 'stripe' THEN
            _payload := skeldir._project_stripe(doc);
            _facts := skeldir._map_stripe(headers, doc);
        ELSIF vendor = 'shopify' THEN
            _payload := skeldir._project_shopify(doc);
            _facts := skeldir._map_shopify(headers, doc);
        ELSIF vendor = 'woocommerce' THEN
            _payload := skeldir._project_woocommerce(doc);
            _facts := skeldir._map_woocommerce(headers, doc);
        ELSIF vendor = 'paypal' THEN
            _payload := skeldir._project_paypal(doc);
            _facts := skeldir._map_paypal(headers, doc);
        ELSIF vendor = 'standard' THEN
            _payload := skeldir._project_standard(doc);
            _facts := skeldir._map_standard(headers, doc);
        END IF;
        IF _reason IS NULL THEN
            IF pg_catalog.cardinality(_facts) IS NULL THEN
                RAISE EXCEPTION USING ERRCODE = 'SK404', MESSAGE = 'no mapping for vendor ' || vendor;
            END IF;
            -- What the table or its indexes would refuse is the document's fault: say which field.
            FOREACH _e IN ARRAY _facts LOOP
                CONTINUE WHEN NOT _e.supported;
                _detail := CASE
                    WHEN pg_catalog.length(_e.vendor_event_id) > 255 THEN 'delivery id'
                    WHEN pg_catalog.length(_e.fact_key) > 255 THEN 'fact id ' || pg_catalog.split_part(_e.fact_key, ':', 1)
                    WHEN pg_catalog.length(_e.order_ref) > 255 THEN 'order reference'
                    WHEN pg_catalog.length(_e.payment_ref) > 255 THEN 'payment reference' END;
                IF _detail IS NOT NULL THEN
                    RAISE EXCEPTION USING ERRCODE = 'SK422', MESSAGE = 'field_too_long',
                        DETAIL = _detail || ' longer than 255 characters';
                END IF;
            END LOOP;
        END IF;
    EXCEPTION
        WHEN undefined_function THEN
            RAISE EXCEPTION USING ERRCODE = 'SK404', MESSAGE = 'no mapping for vendor ' || vendor,
                HINT = 'Deploy the vendor''s function_webhook_map_<vendor> change.';
        WHEN SQLSTATE 'SK422' THEN
            GET STACKED DIAGNOSTICS _reason = MESSAGE_TEXT, _detail = PG_EXCEPTION_DETAIL;
        WHEN data_exception THEN
            -- A value the mapping could not convert (out-of-range timestamp, bad escape...).
            GET STACKED DIAGNOSTICS _detail = MESSAGE_TEXT;
            _reason := 'bad_value';
        WHEN program_limit_exceeded THEN
            -- JSON that parses but is too deep or too large to map: keep only the body's
            -- hash and length.
            _reason := 'too_complex';
            _detail := SQLERRM;
            _payload := NULL;
    END;
    IF _reason IS NOT NULL THEN
        -- An assignment, not SELECT * INTO ... FROM: a simple expression needs no executor.
        _answer := skeldir._dead_letter(
            tenant_id, vendor, route, headers, _payload, body_sha256, body_bytes, _reason, _detail, replayed_from);
        http_status := _answer.http_status;
        outcome := _answer.outcome;
        response := _answer.response;
        RETURN;
    END IF;

    FOREACH _e IN ARRAY _facts LOOP
        CONTINUE WHEN NOT _e.supported;
        IF _e.cumulative_minor IS NOT NULL THEN
            -- Two deliveries working out the unrecorded part of one payment's refund total
            -- at once would both record it: one at a time per payment, until commit.
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
                'refunds:' || _ingest_document.tenant_id::text || ':' || _ingest_document.vendor || ':' || _e.payment_ref, 0));
            SELECT -coalesce(pg_catalog.sum(ev.amount_minor), 0), pg_catalog.max(ev.id) INTO _recorded, _id
              FROM skeldir.attribution_events AS ev
             WHERE ev.tenant_id = _ingest_document.tenant_id AND ev.payment_ref = _e.payment_ref
               AND ev.vendor = _ingest_document.vendor AND ev.kind = 'refund';
            IF _e.cumulative_minor <= _recorded THEN
                _known := coalesce(_known, _id);
                CONTINUE;
            END IF;
            _e.amount_minor := _recorded - _e.cumulative_minor;
        END IF;
        IF _customer IS NULL THEN
            _customer := coalesce(skeldir._customer_ref(_e.customer_email), '');
        END IF;
        INSERT INTO skeldir.attribution_events AS ev
               (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor,
                currency, occurred_at, utm_source, utm_medium, utm_campaign, referrer, landing_page,
                customer_ref, payload, route, replayed_from)
        VALUES (_ingest_document.tenant_id, _ingest_document.vendor, _e.topic, _e.kind,
                _e.vendor_event_id, _e.fact_key, _e.order_ref, _e.payment_ref, _e.amount_minor, _e.currency,
                _e.occurred_at, skeldir._redact_text(_e.utm_source), skeldir._redact_text(_e.utm_medium),
                skeldir._redact_text(_e.utm_campaign), skeldir._redact_text(_e.referrer),
                skeldir._redact_text(_e.landing_page), nullif(_customer, ''), _payload,
                _ingest_document.route, _ingest_document.replayed_from)
        ON CONFLICT ON CONSTRAINT attribution_events_dedupe DO NOTHING
        RETURNING ev.id INTO _id;
        IF _id IS NULL THEN
            IF _known IS NULL THEN
                SELECT ev.id INTO STRICT _known
                  FROM skeldir.attribution_events AS ev
                 WHERE ev.tenant_id = _ingest_document.tenant_id
                   AND ev.vendor = _ingest_document.vendor
                   AND ev.fact_key = _e.fact_key;
            END IF;
            CONTINUE;
        END IF;
        _ids := _ids || _id;
        -- Same transaction as the fact: either both exist or neither does. What
        -- pgmq.send('attribution', ...) does (pgmq 1.13, pinned), as a static statement:
        -- pgmq.send builds its INSERT with EXECUTE, so it is planned again on every call.
        INSERT INTO pgmq.q_attribution (vt, message)
        VALUES (pg_catalog.clock_timestamp(), pg_catalog.jsonb_build_object(
            'task', 'allocate', 'tenant_id', _ingest_document.tenant_id, 'event_id', _id));
    END LOOP;

    http_status := 200;
    IF pg_catalog.cardinality(_ids) > 0 THEN
        outcome := 'accepted';
        response := pg_catalog.jsonb_build_object('status', 'accepted', 'event_id', _ids[1], 'event_ids', _ids)::text;
    ELSIF _known IS NOT NULL THEN
        outcome := 'duplicate';
        response := pg_catalog.jsonb_build_object('status', 'duplicate', 'event_id', _known)::text;
    ELSE
        IF replayed_from IS NULL THEN
            PERFORM skeldir._ingest_count(tenant_id, vendor, 'ignored');
        END IF;
        outcome := 'ignored';
        response := pg_catalog.jsonb_build_object('status', 'ignored', 'topic', _facts[1].topic)::text;
    END IF;
END;
$$;
COMMENT ON FUNCTION skeldir._ingest_document(uuid, text, text, jsonb, jsonb, bytea, integer, bigint) IS
    'Map to facts, dedupe each by business identity, store and enqueue an authenticated delivery; dead-letters with a reason code.';

/**
 * Verifies a delivery's signature with any of the tenant's valid secrets for the vendor
 * (current, and previous until its rotation window ends). False for unknown vendors.
 * PayPal: secrets are the pinned certificates; see skeldir._paypal_attestation_valid.
 */
CREATE FUNCTION skeldir._signature_valid(
    vendor text, headers jsonb, body bytea, secrets text[], paypal_webhook_id text, tolerance interval)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _tolerance interval := _signature_valid.tolerance;
BEGIN
    RETURN coalesce(CASE vendor
               WHEN 'stripe' THEN skeldir._stripe_signature_valid(
                   headers ->> 'stripe-signature', body, secrets, _tolerance)
               WHEN 'shopify' THEN skeldir._hmac_base64_valid(
                   skeldir._header(headers, 'shopify-hmac-sha256'), body, secrets)
               WHEN 'woocommerce' THEN skeldir._hmac_base64_valid(
                   headers ->> 'x-wc-webhook-signature', body,
                   ARRAY(SELECT skeldir._html_entity_decode(k) FROM pg_catalog.unnest(secrets) AS k))
               WHEN 'standard' THEN skeldir._standard_signature_valid(headers, body, secrets, _tolerance)
               WHEN 'paypal' THEN skeldir._paypal_attestation_valid(
                   headers, body, secrets, paypal_webhook_id, _tolerance)
           END, false);
END;
$$;
COMMENT ON FUNCTION skeldir._signature_valid(text, jsonb, bytea, text[], text, interval) IS
    'Dispatches to the vendor signature check; false for unknown vendors.';

/**
 * The active tenant a delivery is addressed to: by endpoint token (which must belong to
 * the vendor), else by the sha256 of the X-Skeldir-Tenant-Key header. NULL when none.
 */
CREATE FUNCTION skeldir._tenant_resolve(vendor text, headers jsonb, endpoint_token text) RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
    IF endpoint_token IS NOT NULL THEN
        RETURN (SELECT t.id
                  FROM skeldir.tenant_endpoints AS e
                  JOIN skeldir.tenants AS t ON t.id = e.tenant_id
                 WHERE e.token = endpoint_token AND e.vendor = _tenant_resolve.vendor AND t.status = 'active');
    END IF;
    RETURN (SELECT t.id
              FROM skeldir.tenants AS t
             WHERE t.status = 'active'
               AND t.api_key_hash = pg_catalog.sha256(pg_catalog.convert_to(headers ->> 'x-skeldir-tenant-key', 'UTF8')));
END;
$$;
COMMENT ON FUNCTION skeldir._tenant_resolve(text, jsonb, text) IS 'Active tenant by endpoint token or key hash; NULL if none.';

/**
 * The single webhook entry point (SPEC §5), one transaction:
 *   1. resolve the tenant by endpoint token or X-Skeldir-Tenant-Key hash  -> 401 unauthorized
 *      (a WooCommerce creation ping, the unsigned form body webhook_id=N -> 200 ping, nothing stored)
 *   2. verify the vendor signature with the current or previous secret   -> 401 unauthorized
 *   3. parse the raw bytes as UTF-8 JSON and map them to facts           -> 200 dead_lettered
 *   4. no revenue fact (unsupported topic, unpaid order)                 -> 200 ignored
 *   5. every fact already recorded (tenant, vendor, fact_key)             -> 200 duplicate
 *   6. store the new facts and enqueue their attribution tasks            -> 200 accepted
 * Unknown vendor -> 404. headers: a JSON object of lower-cased header names.
 * Returns the HTTP status, a stable outcome label and the JSON body to send verbatim.
 * It sets the tenant GUC transaction-locally before touching any tenant row, so RLS
 * (forced, also for the owner) still scopes every write. Called through api.webhook_receive.
 */
CREATE FUNCTION skeldir._webhook_receive(
    vendor text, route text, headers jsonb, body bytea, endpoint_token text DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _tenant_id  uuid;
    _secrets    text[];
    _webhook_id text;
    _tolerance  interval;
    _doc        jsonb;
    _answer     record;
    _setting    text;  -- set_config by assignment: a simple expression, where PERFORM runs the executor
BEGIN
    IF _webhook_receive.vendor IS NULL
       OR _webhook_receive.vendor NOT IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard') THEN
        http_status := 404;
        outcome := 'unknown_vendor';
        response := '{"status": "unknown_vendor"}';
        RETURN;
    END IF;

    _tenant_id := skeldir._tenant_resolve(vendor, headers, endpoint_token);
    IF _tenant_id IS NULL THEN
        http_status := 401;
        outcome := 'unauthorized';
        response := '{"status": "unauthorized"}';
        RETURN;
    END IF;
    _setting := pg_catalog.set_config('app.current_tenant_id', _tenant_id::text, true);

    -- WooCommerce pings a new webhook once with an unsigned form post; a non-2xx answer
    -- makes the merchant's save fail, so it gets a plain 200 and is not processed.
    IF vendor = 'woocommerce' AND headers ->> 'x-wc-webhook-signature' IS NULL
       AND pg_catalog.length(body) <= 64
       AND pg_catalog.encode(body, 'escape') ~ '^webhook_id=[0-9]+$' THEN
        http_status := 200;
        outcome := 'ping';
        response := '{"status": "ping"}';
        RETURN;
    END IF;

    -- One query for the secrets and the deployment's tolerance (no secrets: NULL, 401).
    SELECT pg_catalog.array_remove(ARRAY[s.secret,
               CASE WHEN s.previous_expires_at > pg_catalog.now() THEN s.previous_secret END], NULL),
           s.paypal_webhook_id, st.signature_tolerance
      INTO _secrets, _webhook_id, _tolerance
      FROM skeldir.settings AS st
      LEFT JOIN skeldir.tenant_secrets AS s
        ON s.tenant_id = _tenant_id AND s.vendor = _webhook_receive.vendor;
    IF NOT skeldir._signature_valid(vendor, headers, body, _secrets, _webhook_id, _tolerance) THEN
        PERFORM skeldir._ingest_count(_tenant_id, vendor, 'unauthorized');
        -- Same answer as an unknown tenant: nothing to learn from probing.
        http_status := 401;
        outcome := 'unauthorized';
        response := '{"status": "unauthorized"}';
        RETURN;
    END IF;

    BEGIN
        _doc := pg_catalog.convert_from(body, 'UTF8')::jsonb;
    EXCEPTION
        WHEN data_exception OR program_limit_exceeded THEN  -- bad UTF-8 or JSON, \u0000, too deep, too big
            _answer := skeldir._dead_letter(
                _tenant_id, vendor, route, headers, NULL, pg_catalog.sha256(body), pg_catalog.length(body),
                CASE WHEN SQLSTATE = '22021' THEN 'invalid_utf8' ELSE 'invalid_json' END, SQLERRM);
            http_status := _answer.http_status;
            outcome := _answer.outcome;
            response := _answer.response;
            RETURN;
    END;

    _answer := skeldir._ingest_document(
        _tenant_id, vendor, route, headers, _doc, pg_catalog.sha256(body), pg_catalog.length(body));
    http_status := _answer.http_status;
    outcome := _answer.outcome;
    response := _answer.response;
END;
$$;
COMMENT ON FUNCTION skeldir._webhook_receive(text, text, jsonb, bytea, text) IS
    'Ingests one webhook delivery: 200 accepted|duplicate|dead_lettered|ignored|ping, 401 unauthorized, 404 unknown_vendor. Raises nothing for bad input; internal SQLSTATE SK422 (mapping) is handled inside; SK404 when a vendor''s mapping is not deployed.';
/**
 * The answer to a delivery whose ingest raised a data error (SQLSTATE class 22, 23 or 54:
 * a value, a constraint or a size the database refused) that the mapping did not foresee.
 * Such a document is the sender's fault, not an outage: a 503 would make the vendor retry
 * it for days. So, in a fresh (sub)transaction after the failed one rolled back: an
 * unknown tenant or a signature that does not verify (or whose check itself raised, e.g.
 * a PayPal transmission time of 'infinity') is 401, counted under a known tenant like
 * every 401 (skeldir.ingest_counters), and an authenticated delivery is
 * dead-lettered as bad_value (22), constraint_violation (23) or too_large (54), with only
 * the body's hash and length (the document itself is what could not be handled).
 * NULL for any other SQLSTATE: the caller reports its error as before.
 */
CREATE FUNCTION skeldir._webhook_refused(
    vendor text, route text, headers jsonb, body bytea, endpoint_token text, sqlstate text, message text,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _tenant_id uuid;
    _secrets   text[];
    _hook      text;
    _tolerance interval;
    _valid     boolean;
    _answer    record;
BEGIN
    IF pg_catalog.left(sqlstate, 2) NOT IN ('22', '23', '54') THEN
        RETURN;
    END IF;
    _tenant_id := skeldir._tenant_resolve(vendor, headers, endpoint_token);
    IF _tenant_id IS NOT NULL THEN
        PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant_id::text, true);
        SELECT pg_catalog.array_remove(ARRAY[s.secret,
                   CASE WHEN s.previous_expires_at > pg_catalog.now() THEN s.previous_secret END], NULL),
               s.paypal_webhook_id, st.signature_tolerance
          INTO _secrets, _hook, _tolerance
          FROM skeldir.settings AS st
          LEFT JOIN skeldir.tenant_secrets AS s
            ON s.tenant_id = _tenant_id AND s.vendor = _webhook_refused.vendor;
        BEGIN
            _valid := skeldir._signature_valid(vendor, headers, body, _secrets, _hook, _tolerance);
        EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
            _valid := false;  -- a header the check cannot even read is a failed check
        END;
    END IF;
    IF NOT coalesce(_valid, false) THEN
        IF _tenant_id IS NOT NULL THEN  -- counted as the ordinary 401 of a known tenant is
            PERFORM skeldir._ingest_count(_tenant_id, vendor, 'unauthorized');
        END IF;
        http_status := 401;
        outcome := 'unauthorized';
        response := '{"status": "unauthorized"}';
        RETURN;
    END IF;
    _answer := skeldir._dead_letter(
        _tenant_id, vendor, route, headers, NULL, pg_catalog.sha256(body), pg_catalog.length(body),
        CASE pg_catalog.left(sqlstate, 2) WHEN '22' THEN 'bad_value' WHEN '23' THEN 'constraint_violation'
                                          ELSE 'too_large' END,
        sqlstate || ': ' || message);
    http_status := _answer.http_status;
    outcome := _answer.outcome;
    response := _answer.response;
END;
$$;
COMMENT ON FUNCTION skeldir._webhook_refused(text, text, jsonb, bytea, text, text, text) IS
    'After a data error (class 22/23/54) on the ingest path: 401 if not authenticated, else a dead letter; NULL otherwise. Raises nothing of its own.';

/**
 * The webhook entry point runtime roles call: skeldir._webhook_receive (above) as its
 * owner, then the caller's tenant GUC put back, so the tenant a delivery resolved to
 * never leaks into the rest of the caller's transaction (a bad signature sent to a public
 * endpoint token must not scope the caller to that tenant). A data error nothing foresaw
 * is answered by skeldir._webhook_refused (401 or dead letter), never a 5xx. Runs as its
 * owner because app_user may not read tenants, secrets or event tables.
 * Group commit (api.webhook_receive_batch) calls skeldir._webhook_receive itself, inside
 * its own per-delivery subtransaction, so the exception block here costs single calls only.
 */
CREATE FUNCTION api.webhook_receive(
    vendor text, route text, headers jsonb, body bytea, endpoint_token text DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _caller_tenant text := pg_catalog.current_setting('app.current_tenant_id', true);
    _answer        record;
    _state         text;
    _message       text;
    _setting       text;  -- set_config by assignment: a simple expression, where PERFORM runs the executor
BEGIN
    BEGIN
        _answer := skeldir._webhook_receive(vendor, route, headers, body, endpoint_token);
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
        GET STACKED DIAGNOSTICS _state = RETURNED_SQLSTATE, _message = MESSAGE_TEXT;
        _answer := skeldir._webhook_refused(vendor, route, headers, body, endpoint_token, _state, _message);
    END;
    http_status := _answer.http_status;
    outcome := _answer.outcome;
    response := _answer.response;
    _setting := pg_catalog.set_config('app.current_tenant_id', coalesce(_caller_tenant, ''), true);
END;
$$;
COMMENT ON FUNCTION api.webhook_receive(text, text, jsonb, bytea, text) IS
    'Ingests one webhook delivery: 200 accepted|duplicate|dead_lettered|ignored|ping, 401 unauthorized, 404 unknown_vendor. Raises nothing for bad input (a data error is a 401 or a dead letter); SK404 when a vendor''s mapping is not deployed. Leaves the caller''s tenant GUC as it was.';
REVOKE ALL ON FUNCTION api.webhook_receive(text, text, jsonb, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_receive(text, text, jsonb, bytea, text) TO app_rw;

/**
 * What the shell needs to verify a PayPal delivery itself (pgcrypto has no RSA): the
 * tenant's configured PayPal webhook id and its pinned certificates (current, and the
 * previous one within its rotation window). Zero rows for an unknown tenant or when
 * PayPal is not configured; the shell then forwards without an attestation and
 * api.webhook_receive answers 401. Certificates are public keys and the webhook id is
 * part of every signed message, so returning them to app_user reveals no secret.
 * Runs as its owner: app_user may not read tenant_secrets.
 */
CREATE FUNCTION api.webhook_paypal_keys(endpoint_token text, tenant_key text,
    OUT webhook_id text, OUT certificate text) RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _caller_tenant text := pg_catalog.current_setting('app.current_tenant_id', true);
    _tenant_id uuid := skeldir._tenant_resolve(
        'paypal', pg_catalog.jsonb_build_object('x-skeldir-tenant-key', tenant_key), endpoint_token);
BEGIN
    IF _tenant_id IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant_id::text, true);
    RETURN QUERY
        SELECT s.paypal_webhook_id, c.cert
          FROM skeldir.tenant_secrets AS s,
               pg_catalog.unnest(ARRAY[s.secret, CASE WHEN s.previous_expires_at > pg_catalog.now()
                                                      THEN s.previous_secret END]) AS c (cert)
         WHERE s.tenant_id = _tenant_id AND s.vendor = 'paypal'
           AND s.paypal_webhook_id IS NOT NULL AND c.cert IS NOT NULL;
    PERFORM pg_catalog.set_config('app.current_tenant_id', coalesce(_caller_tenant, ''), true);
END;
$$;
COMMENT ON FUNCTION api.webhook_paypal_keys(text, text) IS
    'PayPal webhook id and pinned certificates of the addressed tenant, for the shell''s RSA check. Raises nothing.';
REVOKE ALL ON FUNCTION api.webhook_paypal_keys(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_paypal_keys(text, text) TO app_rw;

COMMIT;
