-- Revert skeldir:function_webhook_receive from pg
-- Back to v1.0.0: the two functions whose bodies changed get their v1.0.0 bodies back (one
-- path per delivery, no prepare/store halves), then the halves are dropped.
BEGIN;

CREATE OR REPLACE FUNCTION skeldir._ingest_document(
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

CREATE OR REPLACE FUNCTION skeldir._webhook_receive(
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

DROP FUNCTION skeldir._webhook_prepare(text, text, jsonb, bytea, text);
DROP FUNCTION skeldir._ingest_store(uuid, text, text, skeldir.webhook_event[], jsonb, bigint);
DROP FUNCTION skeldir._ingest_map(uuid, text, text, jsonb, jsonb, bytea, integer, bigint);

COMMIT;
