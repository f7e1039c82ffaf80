-- Verify skeldir:function_signature on pg
SELECT 'skeldir._secure_equal(bytea, bytea)'::regprocedure,
       'skeldir._header(jsonb, text)'::regprocedure,
       'skeldir._stripe_signature_valid(text, bytea, text[], interval)'::regprocedure,
       'skeldir._hmac_base64_valid(text, bytea, text[])'::regprocedure,
       'skeldir._html_entity_decode(text)'::regprocedure,
       'skeldir._standard_signature_valid(jsonb, bytea, text[], interval)'::regprocedure,
       'skeldir._paypal_attestation_valid(jsonb, bytea, text[], text, interval)'::regprocedure;
SELECT 1 / (skeldir._secure_equal('\x01', '\x01') AND NOT skeldir._secure_equal('\x01', '\x02'))::integer;
SELECT 1 / (skeldir._html_entity_decode('a&amp;b&#38;c&#x26;') = 'a&b&c&')::integer;
DO $$
BEGIN
    IF pg_catalog.has_function_privilege('public', 'skeldir._hmac_base64_valid(text, bytea, text[])', 'EXECUTE') THEN
        RAISE EXCEPTION 'PUBLIC can execute skeldir._hmac_base64_valid' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
