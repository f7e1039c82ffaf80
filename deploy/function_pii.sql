-- Deploy skeldir:function_pii to pg
BEGIN;

/**
 * True for JSON keys that carry personal data: names, emails, phones, addresses, IPs,
 * browser data, free-text notes. Matched case-insensitively, exact or by suffix.
 */
CREATE FUNCTION skeldir._pii_key(key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.lower(key) = ANY ('{name,first_name,last_name,full_name,given_name,
               family_name,middle_name,surname,username,display_name,company,address,address1,
               address2,address_1,address_2,line1,line2,street,street_address,city,zip,postcode,
               postal_code,phone,mobile,email,ip,ip_address,browser_ip,client_ip,user_agent,
               customer_user_agent,customer_ip_address,client_details,browser_data,billing,
               shipping,billing_address,shipping_address,billing_details,shipping_details,payer,
               payer_info,customer,note,customer_note,dob,birthday,tax_id,email_address,
               address_line_1,address_line_2,admin_area_1,admin_area_2,customer_details,
               contact,recipient,buyer_accepts_marketing_email}'::text[])
        OR pg_catalog.lower(key) ~ '(^|_)(email|phone|ip_address|first_name|last_name|full_name|user_agent)$'
$$;
COMMENT ON FUNCTION skeldir._pii_key(text) IS 'True when a JSON key names personal data.';

/** A string that contains an email address, or NULL; used for every free-text column we store. */
CREATE FUNCTION skeldir._redact_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value ~ '[^[:space:]@]+@[^[:space:]@]+\.[[:alpha:]]{2,}' THEN '[redacted]' ELSE value END
$$;
COMMENT ON FUNCTION skeldir._redact_text(text) IS 'The value, or [redacted] when it contains an email address.';

/**
 * The document with every PII key removed, at any depth, and any string value that looks
 * like an email address replaced by "[redacted]". Name/value pair lists (WooCommerce
 * meta_data {"key": ..., "value": ...}, Shopify note_attributes {"name": ..., "value": ...})
 * lose their value when the pair's key names personal data (_wc_order_attribution_user_agent,
 * "email", "phone" ...). What is stored is always this output.
 */
CREATE FUNCTION skeldir._redact(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    CASE pg_catalog.jsonb_typeof(doc)
    WHEN 'object' THEN
        IF skeldir._pii_key(coalesce(doc ->> 'key', doc ->> 'name')) AND doc ? 'value' THEN
            doc := doc - 'value';
        END IF;
        RETURN (SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, skeldir._redact(e.value)), '{}'::jsonb)
                  FROM pg_catalog.jsonb_each(doc) AS e
                 WHERE NOT skeldir._pii_key(e.key));
    WHEN 'array' THEN
        RETURN (SELECT coalesce(pg_catalog.jsonb_agg(skeldir._redact(a.value) ORDER BY a.ord), '[]'::jsonb)
                  FROM pg_catalog.jsonb_array_elements(doc) WITH ORDINALITY AS a (value, ord));
    WHEN 'string' THEN
        IF skeldir._redact_text(doc #>> '{}') = '[redacted]' THEN
            RETURN '"[redacted]"'::jsonb;
        END IF;
        RETURN doc;
    ELSE
        RETURN doc;
    END CASE;
END;
$$;
COMMENT ON FUNCTION skeldir._redact(jsonb) IS 'Removes PII keys at any depth and masks email-like strings.';

/**
 * Keyed hash of a customer email (HMAC-SHA256 with the per-deployment key in
 * skeldir.settings): stable per customer within a deployment, useless outside it.
 */
CREATE FUNCTION skeldir._customer_ref(email text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.encode(
               extensions.hmac(pg_catalog.convert_to(pg_catalog.lower(pg_catalog.btrim(email)), 'UTF8'),
                               s.customer_ref_key, 'sha256'),
               'hex')
      FROM skeldir.settings AS s
     WHERE pg_catalog.btrim(email) <> ''
$$;
COMMENT ON FUNCTION skeldir._customer_ref(text) IS 'Keyed hash of a normalized email; NULL for none.';

COMMIT;
