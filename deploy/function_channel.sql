-- Deploy skeldir:function_channel to pg
BEGIN;

/**
 * The host of a URL, lower-cased, without "www."; NULL when there is none.
 * BEGIN ATOMIC rather than SET search_path = '': names are bound at creation, so no
 * search_path applies, and a SET clause would stop the planner inlining it (called for every
 * touch) and cost a GUC save and restore per call.
 */
-- A single expression without FROM, so the planner inlines it (the attribution task calls
-- it for every touch; a non-inlined SQL function is planned on every call).
CREATE FUNCTION skeldir._url_host(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE BEGIN ATOMIC
    SELECT pg_catalog.regexp_replace(
               pg_catalog.lower(pg_catalog.substring(url, '^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#]+)')), '^www\.', '');
END;
COMMENT ON FUNCTION skeldir._url_host(text) IS 'Lower-cased host of a URL without www.; NULL if none.';

/**
 * The marketing channel of a touch, derived only from its utm fields and referrer, so
 * the same inputs always give the same channel: paid, email, social, affiliate, referral,
 * organic_search, other (utm but unclassified) or direct (nothing at all).
 */
CREATE FUNCTION skeldir._channel(utm_source text, utm_medium text, referrer text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
DECLARE
    _s text := nullif(pg_catalog.lower(pg_catalog.btrim(utm_source)), '');
    _m text := nullif(pg_catalog.lower(pg_catalog.btrim(utm_medium)), '');
    _h text := skeldir._url_host(referrer);
BEGIN
    -- PL/pgSQL rather than SQL: its expressions are planned once per session, not per call.
    RETURN CASE
        WHEN _m ~ '^(cpc|ppc|cpm|cpv|cpa|paid|paid[_ -].*|display|banner|retargeting|shopping)$' THEN 'paid'
        WHEN _m IN ('email', 'e-mail', 'newsletter') OR _s IN ('newsletter', 'klaviyo', 'mailchimp') THEN 'email'
        WHEN _m IN ('social', 'social-network', 'social-media', 'social_media', 'sm')
             OR _s IN ('facebook', 'instagram', 'twitter', 'x', 'linkedin', 'tiktok', 'pinterest', 'youtube', 'reddit')
             OR _h ~ '(^|\.)(facebook\.com|instagram\.com|t\.co|twitter\.com|x\.com|linkedin\.com|tiktok\.com|pinterest\.com|youtube\.com|reddit\.com)$'
            THEN 'social'
        WHEN _m = 'affiliate' THEN 'affiliate'
        WHEN _m = 'organic'
             OR _h ~ '(^|\.)(google\.[a-z.]+|bing\.com|duckduckgo\.com|search\.yahoo\.com|yandex\.[a-z]+|baidu\.com|ecosia\.org)$'
            THEN 'organic_search'
        WHEN _m = 'referral' OR _h IS NOT NULL THEN 'referral'
        WHEN _s IS NOT NULL OR _m IS NOT NULL THEN 'other'
        ELSE 'direct'
    END;
END;
$$;
COMMENT ON FUNCTION skeldir._channel(text, text, text) IS
    'Deterministic channel: paid | email | social | affiliate | referral | organic_search | other | direct.';

COMMIT;
