-- Deploy skeldir:function_webhook_receive to pg
BEGIN;

/** The non-secret headers worth keeping with a dead letter so that it can be replayed. */
CREATE FUNCTION skeldir._routing_headers(headers jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(pg_catalog.jsonb_object_agg(h.key, h.value), '{}'::jsonb)
      FROM pg_catalog.jsonb_each(headers) AS h
     WHERE h.key = ANY ('{content-type,x-shopify-topic,x-shopify-webhook-id,x-shopify-event-id,
                         x-shopify-shop-domain,shopify-topic,shopify-webhook-id,shopify-event-id,
                         shopify-shop-domain,x-wc-webhook-topic,x-wc-webhook-resource,
                         x-wc-webhook-event,x-wc-webhook-id,x-wc-webhook-delivery-id,webhook-id,
                         webhook-timestamp,paypal-transmission-id,paypal-transmission-time}'::text[])
$$;
COMMENT ON FUNCTION skeldir._routing_headers(jsonb) IS 'Allow-listed, non-secret delivery headers.';

/**
 * Stores a dead letter and builds the 200 dead_lettered answer. The payload is redacted
 * before it is written; a non-JSON body is kept only as its sha256 and length.
 */
CREATE FUNCTION skeldir._dead_letter(
    tenant_id uuid, vendor text, route text, headers jsonb, doc jsonb, body_sha256 bytea,
    body_bytes integer, reason text, detail text,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _id bigint;
BEGIN
    INSERT INTO skeldir.dead_letters
           (tenant_id, vendor, route, reason, detail, headers, payload, body_sha256, body_bytes)
    VALUES (_dead_letter.tenant_id, _dead_letter.vendor, _dead_letter.route, _dead_letter.reason,
            pg_catalog.left(_dead_letter.detail, 500), skeldir._routing_headers(_dead_letter.headers),
            skeldir._redact(doc), _dead_letter.body_sha256, _dead_letter.body_bytes)
    RETURNING id INTO _id;
    http_status := 200;
    outcome := 'dead_lettered';
    response := pg_catalog.jsonb_build_object('status', 'dead_lettered', 'dead_event_id', _id,
                                              'reason', _dead_letter.reason)::text;
END;
$$;
COMMENT ON FUNCTION skeldir._dead_letter(uuid, text, text, jsonb, jsonb, bytea, integer, text, text) IS
    'Writes a redacted dead letter; returns the dead_lettered answer.';

/** Counts an outcome that stores no row of its own (unauthorized, ignored). */
CREATE FUNCTION skeldir._ingest_count(tenant_id uuid, vendor text, outcome text) RETURNS void
LANGUAGE sql VOLATILE AS $$
    INSERT INTO skeldir.ingest_counters AS c (tenant_id, vendor, day, outcome, count)
    VALUES (_ingest_count.tenant_id, _ingest_count.vendor, pg_catalog.now()::date, _ingest_count.outcome, 1)
    ON CONFLICT (tenant_id, vendor, day, outcome) DO UPDATE SET count = c.count + 1
$$;
COMMENT ON FUNCTION skeldir._ingest_count(uuid, text, text) IS 'Increments a daily ingest counter.';

/**
 * Steps 3-6 of SPEC §5 for an already authenticated delivery whose body parsed as JSON
 * (or NULL when it did not): map, dedupe, store, enqueue. Also the replay path for dead
 * letters. Runs inside the caller's transaction with the tenant GUC already set.
 */
CREATE FUNCTION skeldir._ingest_document(
    tenant_id uuid, vendor text, route text, headers jsonb, doc jsonb, body_sha256 bytea,
    body_bytes integer, replayed_from bigint DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    _e        skeldir.webhook_event;
    _event_id bigint;
    _reason   text;
    _detail   text;
BEGIN
    IF pg_catalog.jsonb_typeof(doc) IS DISTINCT FROM 'object' THEN
        SELECT * INTO http_status, outcome, response FROM skeldir._dead_letter(
            tenant_id, vendor, route, headers, doc, body_sha256, body_bytes, 'not_an_object',
            pg_catalog.format('top-level JSON value is %s', pg_catalog.jsonb_typeof(doc)));
        RETURN;
    END IF;

    BEGIN
        _e := CASE _ingest_document.vendor
                  WHEN 'stripe' THEN skeldir._map_stripe(headers, doc)
              END;
        IF _e IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SK404', MESSAGE = 'unsupported vendor ' || vendor;
        END IF;
    EXCEPTION
        WHEN SQLSTATE 'SK422' THEN
            GET STACKED DIAGNOSTICS _reason = MESSAGE_TEXT, _detail = PG_EXCEPTION_DETAIL;
        WHEN data_exception THEN
            -- A value the mapping could not convert (out-of-range timestamp, bad escape...).
            GET STACKED DIAGNOSTICS _detail = MESSAGE_TEXT;
            _reason := 'bad_value';
    END;
    IF _reason IS NOT NULL THEN
        SELECT * INTO http_status, outcome, response FROM skeldir._dead_letter(
            tenant_id, vendor, route, headers, doc, body_sha256, body_bytes, _reason, _detail);
        RETURN;
    END IF;

    IF NOT _e.supported THEN
        PERFORM skeldir._ingest_count(tenant_id, vendor, 'ignored');
        http_status := 200;
        outcome := 'ignored';
        response := pg_catalog.jsonb_build_object('status', 'ignored', 'topic', _e.topic)::text;
        RETURN;
    END IF;

    INSERT INTO skeldir.attribution_events AS ev
           (tenant_id, vendor, topic, kind, vendor_event_id, order_ref, payment_ref, amount_minor,
            currency, occurred_at, utm_source, utm_medium, utm_campaign, referrer, landing_page,
            customer_ref, payload, route, replayed_from)
    VALUES (_ingest_document.tenant_id, _ingest_document.vendor, _e.topic, _e.kind,
            _e.vendor_event_id, _e.order_ref, _e.payment_ref, _e.amount_minor, _e.currency,
            _e.occurred_at, _e.utm_source, _e.utm_medium, _e.utm_campaign, _e.referrer,
            _e.landing_page, skeldir._customer_ref(_e.customer_email), skeldir._redact(doc),
            _ingest_document.route, _ingest_document.replayed_from)
    ON CONFLICT ON CONSTRAINT attribution_events_dedupe DO NOTHING
    RETURNING ev.id INTO _event_id;

    IF _event_id IS NULL THEN
        SELECT ev.id INTO STRICT _event_id
          FROM skeldir.attribution_events AS ev
         WHERE ev.tenant_id = _ingest_document.tenant_id
           AND ev.vendor = _ingest_document.vendor
           AND ev.vendor_event_id = _e.vendor_event_id;
        http_status := 200;
        outcome := 'duplicate';
        response := pg_catalog.jsonb_build_object('status', 'duplicate', 'event_id', _event_id)::text;
        RETURN;
    END IF;

    -- Same transaction as the event: either both exist or neither does.
    PERFORM pgmq.send('attribution', pg_catalog.jsonb_build_object(
        'task', 'allocate', 'tenant_id', tenant_id, 'event_id', _event_id));
    http_status := 200;
    outcome := 'accepted';
    response := pg_catalog.jsonb_build_object('status', 'accepted', 'event_id', _event_id)::text;
END;
$$;
COMMENT ON FUNCTION skeldir._ingest_document(uuid, text, text, jsonb, jsonb, bytea, integer, bigint) IS
    'Map, dedupe, store and enqueue an authenticated delivery; dead-letters with a reason code.';

/** Verifies a delivery's signature with any of the tenant's valid secrets for the vendor. */
CREATE FUNCTION skeldir._signature_valid(vendor text, headers jsonb, body bytea, secrets text[])
RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(CASE vendor
               WHEN 'stripe' THEN skeldir._stripe_signature_valid(
                   headers ->> 'stripe-signature', body, secrets, s.signature_tolerance)
           END, false)
      FROM skeldir.settings AS s
$$;
COMMENT ON FUNCTION skeldir._signature_valid(text, jsonb, bytea, text[]) IS
    'Dispatches to the vendor signature check; false for unknown vendors.';

/**
 * The single webhook entry point (SPEC §5), one transaction:
 *   1. resolve the tenant by endpoint token or X-Skeldir-Tenant-Key hash  -> 401 unauthorized
 *   2. verify the vendor signature with the current or previous secret   -> 401 unauthorized
 *   3. parse the raw bytes as UTF-8 JSON and map them                    -> 200 dead_lettered
 *   4. unsupported topic                                                 -> 200 ignored
 *   5. dedupe on (tenant, vendor, vendor event id)                       -> 200 duplicate
 *   6. store the canonical event and enqueue its attribution task        -> 200 accepted
 * Unknown vendor -> 404. headers: a JSON object of lower-cased header names.
 * Returns the HTTP status, a stable outcome label and the JSON body to send verbatim.
 * SECURITY DEFINER because app_user may not read tenants, secrets or event tables; it
 * sets the tenant GUC transaction-locally before touching any tenant row, so RLS
 * (forced, also for this owner) still scopes every write.
 */
CREATE FUNCTION api.webhook_receive(
    vendor text, route text, headers jsonb, body bytea, endpoint_token text DEFAULT NULL,
    OUT http_status integer, OUT outcome text, OUT response text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _tenant_id uuid;
    _secrets   text[];
    _doc       jsonb;
BEGIN
    IF webhook_receive.vendor IS NULL
       OR webhook_receive.vendor NOT IN ('stripe', 'shopify', 'woocommerce', 'paypal', 'standard') THEN
        http_status := 404;
        outcome := 'unknown_vendor';
        response := '{"status": "unknown_vendor"}';
        RETURN;
    END IF;

    IF webhook_receive.endpoint_token IS NOT NULL THEN
        SELECT t.id INTO _tenant_id
          FROM skeldir.tenant_endpoints AS e
          JOIN skeldir.tenants AS t ON t.id = e.tenant_id
         WHERE e.token = webhook_receive.endpoint_token
           AND e.vendor = webhook_receive.vendor
           AND t.status = 'active';
    ELSE
        SELECT t.id INTO _tenant_id
          FROM skeldir.tenants AS t
         WHERE t.api_key_hash = pg_catalog.sha256(pg_catalog.convert_to(headers ->> 'x-skeldir-tenant-key', 'UTF8'))
           AND t.status = 'active';
    END IF;
    IF _tenant_id IS NULL THEN
        http_status := 401;
        outcome := 'unauthorized';
        response := '{"status": "unauthorized"}';
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant_id::text, true);

    SELECT pg_catalog.array_remove(ARRAY[s.secret,
               CASE WHEN s.previous_expires_at > pg_catalog.now() THEN s.previous_secret END], NULL)
      INTO _secrets
      FROM skeldir.tenant_secrets AS s
     WHERE s.tenant_id = _tenant_id AND s.vendor = webhook_receive.vendor;
    IF NOT skeldir._signature_valid(vendor, headers, body, _secrets) THEN
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
        WHEN invalid_text_representation OR character_not_in_repertoire OR untranslatable_character
             OR statement_too_complex OR program_limit_exceeded THEN
            SELECT * INTO http_status, outcome, response FROM skeldir._dead_letter(
                _tenant_id, vendor, route, headers, NULL, pg_catalog.sha256(body),
                pg_catalog.length(body), 'invalid_json', SQLERRM);
            RETURN;
    END;

    SELECT * INTO http_status, outcome, response FROM skeldir._ingest_document(
        _tenant_id, vendor, route, headers, _doc, pg_catalog.sha256(body), pg_catalog.length(body));
END;
$$;
COMMENT ON FUNCTION api.webhook_receive(text, text, jsonb, bytea, text) IS
    'Ingests one webhook delivery: 200 accepted|duplicate|dead_lettered|ignored, 401 unauthorized, 404 unknown_vendor. Raises nothing for bad input; internal SQLSTATE SK422 (mapping) is handled inside.';
REVOKE ALL ON FUNCTION api.webhook_receive(text, text, jsonb, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_receive(text, text, jsonb, bytea, text) TO app_rw;

COMMIT;
