-- Deploy skeldir:function_pii to pg
BEGIN;

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
 * Privacy by construction (SPEC §5): what is stored of a delivery is a projection that each
 * vendor's mapping change builds (skeldir._project_<vendor>) from the fields that mapping
 * knows; nothing unknown is kept, so nothing unknown leaks. The helpers below say how a
 * known field is kept. SQL-standard bodies, bound at creation (no search_path applies) and
 * inlined into the projections' expressions.
 */

/**
 * A free-text value (attribution fields, URLs): a string, masked when it contains an email
 * address; a number or a boolean as it is; an object or an array, where anything could hide,
 * emptied (its type kept, so that the mapping reads it on replay as it read the delivery).
 */
CREATE FUNCTION skeldir._keep_text(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE pg_catalog.jsonb_typeof(value)
               WHEN 'string' THEN CASE WHEN skeldir._redact_text(value #>> '{}') = '[redacted]'
                                       THEN '"[redacted]"'::jsonb ELSE value END
               WHEN 'object' THEN '{}'::jsonb
               WHEN 'array' THEN '[]'::jsonb
               ELSE value
           END;
END;
COMMENT ON FUNCTION skeldir._keep_text(jsonb) IS 'A known free-text field as stored: email-like strings masked, containers emptied.';

/**
 * An identifier, amount, currency or timestamp: a scalar as it is (it is stored in its own
 * column too); an object or an array emptied, its type kept.
 */
CREATE FUNCTION skeldir._keep_scalar(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE pg_catalog.jsonb_typeof(value)
               WHEN 'object' THEN '{}'::jsonb
               WHEN 'array' THEN '[]'::jsonb
               ELSE value
           END;
END;
COMMENT ON FUNCTION skeldir._keep_scalar(jsonb) IS 'A known scalar field as stored: scalars as they are, containers emptied.';

/**
 * A field the mapping requires to be a container, when it is something else: an empty
 * value of the same type, so that a replay of the dead letter fails the same way
 * (bad_type) without storing what the sender put there.
 */
CREATE FUNCTION skeldir._keep_shape(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE pg_catalog.jsonb_typeof(value)
               WHEN 'string' THEN '""'::jsonb
               WHEN 'array' THEN '[]'::jsonb
               WHEN 'object' THEN '{}'::jsonb
               ELSE value
           END;
END;
COMMENT ON FUNCTION skeldir._keep_shape(jsonb) IS 'An emptied value of the same JSON type.';

/**
 * The five attribution fields of an object (utm_source, utm_medium, utm_campaign, referrer,
 * landing_page). STABLE because jsonb_build_object is: an IMMUTABLE function whose body is
 * less so is not inlined, and a call that is not inlined costs an executor start.
 */
CREATE FUNCTION skeldir._keep_attribution(fields jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.jsonb_build_object(
               'utm_source', skeldir._keep_text(fields -> 'utm_source'),
               'utm_medium', skeldir._keep_text(fields -> 'utm_medium'),
               'utm_campaign', skeldir._keep_text(fields -> 'utm_campaign'),
               'referrer', skeldir._keep_text(fields -> 'referrer'),
               'landing_page', skeldir._keep_text(fields -> 'landing_page'));
END;
COMMENT ON FUNCTION skeldir._keep_attribution(jsonb) IS 'The attribution fields of an object, kept as free text (nulls for absent ones).';

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
