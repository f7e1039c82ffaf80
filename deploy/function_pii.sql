-- Deploy skeldir:function_pii to pg
BEGIN;

/**
 * True for JSON keys that carry personal data: names, emails, phones, addresses, IPs,
 * browser data, free-text notes. Matched case-insensitively, exact or by suffix.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it into _redact's
 * queries (every key of every delivery) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir._pii_key(key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE BEGIN ATOMIC
    -- The exact names are the keys of a jsonb object (a binary search, not 60 comparisons);
    -- the suffix regex runs only for names that end like one of its words. This runs for
    -- every key of every delivery.
    SELECT '{"name": 0, "first_name": 0, "last_name": 0, "full_name": 0, "given_name": 0,
             "family_name": 0, "middle_name": 0, "surname": 0, "username": 0, "display_name": 0,
             "company": 0, "address": 0, "address1": 0, "address2": 0, "address_1": 0,
             "address_2": 0, "line1": 0, "line2": 0, "street": 0, "street_address": 0, "city": 0,
             "zip": 0, "postcode": 0, "postal_code": 0, "phone": 0, "mobile": 0, "email": 0,
             "ip": 0, "ip_address": 0, "browser_ip": 0, "client_ip": 0, "user_agent": 0,
             "customer_user_agent": 0, "customer_ip_address": 0, "client_details": 0,
             "browser_data": 0, "billing": 0, "shipping": 0, "billing_address": 0,
             "shipping_address": 0, "billing_details": 0, "shipping_details": 0, "payer": 0,
             "payer_info": 0, "customer": 0, "note": 0, "customer_note": 0, "dob": 0,
             "birthday": 0, "tax_id": 0, "email_address": 0, "address_line_1": 0,
             "address_line_2": 0, "admin_area_1": 0, "admin_area_2": 0, "customer_details": 0,
             "contact": 0, "recipient": 0, "buyer_accepts_marketing_email": 0}'::jsonb ? pg_catalog.lower(key)
        OR (pg_catalog.lower(key) LIKE ANY ('{%email,%phone,%ip_address,%first_name,%last_name,%full_name,%user_agent}')
            AND pg_catalog.lower(key) ~ '(^|_)(email|phone|ip_address|first_name|last_name|full_name|user_agent)$');
END;
COMMENT ON FUNCTION skeldir._pii_key(text) IS 'True when a JSON key names personal data.';

/**
 * A string that contains an email address, or NULL; used for every free-text column we store.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it (every free-text
 * value of every delivery) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir._redact_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE BEGIN ATOMIC
    -- strpos first: most strings have no @, and the regex is unanchored.
    SELECT CASE WHEN pg_catalog.strpos(value, '@') > 0
                 AND value ~ '[^[:space:]@]+@[^[:space:]@]+\.[[:alpha:]]{2,}' THEN '[redacted]' ELSE value END;
END;
COMMENT ON FUNCTION skeldir._redact_text(text) IS 'The value, or [redacted] when it contains an email address.';

/**
 * The document with every PII key removed, at any depth, and any string value that looks
 * like an email address replaced by "[redacted]". Name/value pair lists (WooCommerce
 * meta_data {"key": ..., "value": ...}, Shopify note_attributes {"name": ..., "value": ...})
 * lose their value when the pair's key names personal data (_wc_order_attribution_user_agent,
 * "email", "phone" ...). What is stored is always this output.
 * This runs for every delivery: it recurses only into objects and arrays (one query per
 * container) and handles scalars inline. Nesting too deep for the stack raises 54001,
 * which ingestion dead-letters as too_complex.
 */
CREATE FUNCTION skeldir._redact(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
BEGIN
    CASE pg_catalog.jsonb_typeof(doc)
    WHEN 'object' THEN
        IF skeldir._pii_key(coalesce(doc ->> 'key', doc ->> 'name')) AND doc ? 'value' THEN
            doc := doc - 'value';
        END IF;
        RETURN (SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, skeldir._redact_member(e.value)), '{}'::jsonb)
                  FROM pg_catalog.jsonb_each(doc) AS e
                 WHERE NOT skeldir._pii_key(e.key));
    WHEN 'array' THEN
        RETURN (SELECT coalesce(pg_catalog.jsonb_agg(skeldir._redact_member(a.value) ORDER BY a.ord), '[]'::jsonb)
                  FROM pg_catalog.jsonb_array_elements(doc) WITH ORDINALITY AS a (value, ord));
    ELSE
        RETURN skeldir._redact_member(doc);
    END CASE;
END;
$$;
COMMENT ON FUNCTION skeldir._redact(jsonb) IS 'Removes PII keys at any depth and masks email-like strings.';

/**
 * One member of an object or array as skeldir._redact stores it: containers recursed into,
 * email-like strings masked, other scalars as they are. A single expression, so the
 * planner inlines it into _redact's queries: a scalar costs no function call.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it into _redact's
 * queries (every member of every delivery) and cost a GUC save and restore per call.
 */
CREATE FUNCTION skeldir._redact_member(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE BEGIN ATOMIC
    SELECT CASE pg_catalog.jsonb_typeof(value)
               WHEN 'object' THEN skeldir._redact(value)
               WHEN 'array' THEN skeldir._redact(value)
               WHEN 'string' THEN CASE WHEN skeldir._redact_text(value #>> '{}') = '[redacted]'
                                       THEN '"[redacted]"'::jsonb ELSE value END
               ELSE value
           END;
END;
COMMENT ON FUNCTION skeldir._redact_member(jsonb) IS 'A member redacted: containers recursed, email-like strings masked.';

/**
 * Keyed hash of a customer email (HMAC-SHA256 with the per-deployment key in
 * skeldir.settings): stable per customer within a deployment, useless outside it.
 */
CREATE FUNCTION skeldir._customer_ref(email text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
    -- PL/pgSQL for its cached plan (a SQL function is planned again in every subtransaction).
    IF email IS NULL OR pg_catalog.btrim(email) = '' THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT pg_catalog.encode(
                       extensions.hmac(pg_catalog.convert_to(pg_catalog.lower(pg_catalog.btrim(email)), 'UTF8'),
                                       s.customer_ref_key, 'sha256'),
                       'hex')
              FROM skeldir.settings AS s);
END;
$$;
COMMENT ON FUNCTION skeldir._customer_ref(text) IS 'Keyed hash of a normalized email; NULL for none.';

COMMIT;
