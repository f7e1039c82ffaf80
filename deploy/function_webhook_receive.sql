-- Deploy skeldir:function_webhook_receive to pg
--
-- The ingest path in two halves, so that a group-commit batch can prepare its deliveries
-- one by one and store them together (function_webhook_receive_batch): prepare resolves,
-- verifies, parses and maps (writing only dead letters and counters); store writes the
-- facts and their queue messages. A single call and a replay run both halves in turn, as
-- before. Upgrades v1.0.0 in place: the two functions whose bodies change are replaced,
-- the halves are new; everything else of the change is as v1.0.0 created it.
BEGIN;

/**
 * Steps 3-4 of SPEC §5 for an already authenticated delivery whose body parsed as JSON
 * (or NULL when it did not): project, map to facts, check what the table would refuse.
 * Writes nothing but the dead letter of a document it refuses, whose answer it returns
 * (http_status set); otherwise http_status is NULL and facts and payload (the vendor's
 * projection, skeldir._project_<vendor>: the fields its mapping reads, nothing else) are
 * what skeldir._ingest_store, or a batch's set-based store, records. Runs with the tenant
 * GUC already set. Each vendor's mapping is the function
 * skeldir._map_<vendor>(headers jsonb, doc jsonb) RETURNS skeldir.webhook_event[], one
 * sqitch change per vendor, called statically (one cached plan per branch).
 * Everything that can refuse a document (a document too deep for the stack, a mapping's
 * SK422, a value that cannot be converted, a field too long to store or index) runs in
 * one exception block that writes nothing, so it costs one subtransaction without a
 * subtransaction id: under group commit every delivery already has one of those for itself.
 * replayed_from: the dead letter being replayed (a refusal then writes nothing new).
 */
CREATE FUNCTION skeldir._ingest_map(
    tenant_id uuid, vendor text, route text, headers jsonb, doc jsonb, body_sha256 bytea,
    body_bytes integer, replayed_from bigint DEFAULT NULL,
    OUT facts skeldir.webhook_event[], OUT payload jsonb,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _facts    skeldir.webhook_event[];
    _e        skeldir.webhook_event;
    _payload  jsonb;
    _reason   text;
    _detail   text;
    _answer   record;
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
    facts := _facts;
    payload := _payload;
END;
$$;
COMMENT ON FUNCTION skeldir._ingest_map(uuid, text, text, jsonb, jsonb, bytea, integer, bigint) IS
    'Project and map an authenticated document to facts; a refused document is dead-lettered (its answer returned, reason code in it). Raises SK404 when a vendor''s mapping is not deployed.';

/**
 * Steps 4-6 of SPEC §5 for the facts skeldir._ingest_map returned: dedupe each fact, store,
 * enqueue, answer. Runs inside the caller's transaction with the tenant GUC already set.
 * Each fact is stored once per (tenant, vendor, fact_key); a fact that is a level of a
 * cumulative refund total (Stripe) stores only what exceeds the refunds already recorded
 * for its payment, under a transaction-scoped advisory lock per payment. Answers:
 * accepted (event_id: the first new fact, event_ids: all new facts) when at least one fact
 * is new, duplicate (event_id: the first fact already recorded) when none is, ignored when
 * the delivery carries no revenue fact (counted, except on replay). A group-commit batch
 * stores most deliveries set-based instead (skeldir._ingest_store_group), with the same
 * answers, and falls back to this function one delivery at a time.
 */
CREATE FUNCTION skeldir._ingest_store(
    tenant_id uuid, vendor text, route text, facts skeldir.webhook_event[], payload jsonb,
    replayed_from bigint DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _e        skeldir.webhook_event;
    _ids      bigint[] := '{}';
    _known    bigint;  -- the first fact of the delivery that was already recorded
    _id       bigint;
    _recorded bigint;
    _customer text;
BEGIN
    FOREACH _e IN ARRAY _ingest_store.facts LOOP
        CONTINUE WHEN NOT _e.supported;
        IF _e.cumulative_minor IS NOT NULL THEN
            -- Two deliveries working out the unrecorded part of one payment's refund total
            -- at once would both record it: one at a time per payment, until commit.
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
                'refunds:' || _ingest_store.tenant_id::text || ':' || _ingest_store.vendor || ':' || _e.payment_ref, 0));
            SELECT -coalesce(pg_catalog.sum(ev.amount_minor), 0), pg_catalog.max(ev.id) INTO _recorded, _id
              FROM skeldir.attribution_events AS ev
             WHERE ev.tenant_id = _ingest_store.tenant_id AND ev.payment_ref = _e.payment_ref
               AND ev.vendor = _ingest_store.vendor AND ev.kind = 'refund';
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
        VALUES (_ingest_store.tenant_id, _ingest_store.vendor, _e.topic, _e.kind,
                _e.vendor_event_id, _e.fact_key, _e.order_ref, _e.payment_ref, _e.amount_minor, _e.currency,
                _e.occurred_at, skeldir._redact_text(_e.utm_source), skeldir._redact_text(_e.utm_medium),
                skeldir._redact_text(_e.utm_campaign), skeldir._redact_text(_e.referrer),
                skeldir._redact_text(_e.landing_page), nullif(_customer, ''), _ingest_store.payload,
                _ingest_store.route, _ingest_store.replayed_from)
        ON CONFLICT ON CONSTRAINT attribution_events_dedupe DO NOTHING
        RETURNING ev.id INTO _id;
        IF _id IS NULL THEN
            IF _known IS NULL THEN
                SELECT ev.id INTO STRICT _known
                  FROM skeldir.attribution_events AS ev
                 WHERE ev.tenant_id = _ingest_store.tenant_id
                   AND ev.vendor = _ingest_store.vendor
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
            'task', 'allocate', 'tenant_id', _ingest_store.tenant_id, 'event_id', _id));
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
        response := pg_catalog.jsonb_build_object('status', 'ignored', 'topic', facts[1].topic)::text;
    END IF;
END;
$$;
COMMENT ON FUNCTION skeldir._ingest_store(uuid, text, text, skeldir.webhook_event[], jsonb, bigint) IS
    'Dedupe, store and enqueue the mapped facts of one delivery: accepted|duplicate|ignored. Raises what the table raises (the caller answers a data error as a refusal).';

/**
 * Steps 3-6 of SPEC §5 for an already authenticated delivery whose body parsed as JSON
 * (or NULL when it did not): skeldir._ingest_map, then skeldir._ingest_store. Also the
 * replay path for dead letters (replayed_from: the dead letter's id). Runs inside the
 * caller's transaction with the tenant GUC already set.
 */
CREATE OR REPLACE FUNCTION skeldir._ingest_document(
    tenant_id uuid, vendor text, route text, headers jsonb, doc jsonb, body_sha256 bytea,
    body_bytes integer, replayed_from bigint DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _mapped record;
    _answer record;
BEGIN
    -- Assignments, not SELECT * INTO ... FROM: a simple expression needs no executor.
    _mapped := skeldir._ingest_map(tenant_id, vendor, route, headers, doc, body_sha256, body_bytes, replayed_from);
    IF _mapped.http_status IS NOT NULL THEN
        http_status := _mapped.http_status;
        outcome := _mapped.outcome;
        response := _mapped.response;
        RETURN;
    END IF;
    _answer := skeldir._ingest_store(tenant_id, vendor, route, _mapped.facts, _mapped.payload, replayed_from);
    http_status := _answer.http_status;
    outcome := _answer.outcome;
    response := _answer.response;
END;
$$;

/**
 * Steps 1-4 of SPEC §5 (see skeldir._webhook_receive) for one delivery: resolve the tenant
 * and set its GUC transaction-locally, verify the signature, parse, map. Writes nothing
 * but a dead letter or an unauthorized counter. When the delivery is answered already
 * (401, 404, ping, dead letter) http_status is set; otherwise http_status is NULL and
 * tenant_id, facts and payload are what is left to store (skeldir._ingest_store, or a
 * batch's set-based store), under that tenant.
 */
CREATE FUNCTION skeldir._webhook_prepare(
    vendor text, route text, headers jsonb, body bytea, endpoint_token text DEFAULT NULL,
    OUT tenant_id uuid, OUT facts skeldir.webhook_event[], OUT payload jsonb,
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
    IF _webhook_prepare.vendor IS NULL
       OR _webhook_prepare.vendor NOT IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard') THEN
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
        ON s.tenant_id = _tenant_id AND s.vendor = _webhook_prepare.vendor;
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

    _answer := skeldir._ingest_map(
        _tenant_id, vendor, route, headers, _doc, pg_catalog.sha256(body), pg_catalog.length(body));
    tenant_id := _tenant_id;
    facts := _answer.facts;
    payload := _answer.payload;
    http_status := _answer.http_status;
    outcome := _answer.outcome;
    response := _answer.response;
END;
$$;
COMMENT ON FUNCTION skeldir._webhook_prepare(text, text, jsonb, bytea, text) IS
    'Resolve, verify, parse and map one delivery, writing only a dead letter or a counter: its answer, or (http_status NULL) the tenant, facts and payload left to store. Sets the tenant GUC. Raises SK404 when a vendor''s mapping is not deployed.';

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
 * Steps 1-3 are skeldir._webhook_prepare, 4-6 skeldir._ingest_store.
 */
CREATE OR REPLACE FUNCTION skeldir._webhook_receive(
    vendor text, route text, headers jsonb, body bytea, endpoint_token text DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _prepared record;
    _answer   record;
BEGIN
    -- Assignments, not SELECT * INTO ... FROM: a simple expression needs no executor.
    _prepared := skeldir._webhook_prepare(vendor, route, headers, body, endpoint_token);
    IF _prepared.http_status IS NOT NULL THEN
        http_status := _prepared.http_status;
        outcome := _prepared.outcome;
        response := _prepared.response;
        RETURN;
    END IF;
    _answer := skeldir._ingest_store(_prepared.tenant_id, vendor, route, _prepared.facts, _prepared.payload);
    http_status := _answer.http_status;
    outcome := _answer.outcome;
    response := _answer.response;
END;
$$;

COMMIT;
