-- Deploy skeldir:function_channel to pg
BEGIN;

/** The host of a URL, lower-cased, without "www."; NULL when there is none. */
CREATE FUNCTION skeldir._url_host(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.regexp_replace(pg_catalog.lower(m[1]), '^www\.', '')
      FROM pg_catalog.regexp_match(url, '^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#]+)') AS m
$$;
COMMENT ON FUNCTION skeldir._url_host(text) IS 'Lower-cased host of a URL without www.; NULL if none.';

/**
 * The marketing channel of a touch, derived only from its utm fields and referrer, so
 * the same inputs always give the same channel: paid, email, social, affiliate, referral,
 * organic_search, other (utm but unclassified) or direct (nothing at all).
 */
CREATE FUNCTION skeldir._channel(utm_source text, utm_medium text, referrer text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN m ~ '^(cpc|ppc|cpm|cpv|cpa|paid|paid[_ -].*|display|banner|retargeting|shopping)$' THEN 'paid'
        WHEN m IN ('email', 'e-mail', 'newsletter') OR s IN ('newsletter', 'klaviyo', 'mailchimp') THEN 'email'
        WHEN m IN ('social', 'social-network', 'social-media', 'social_media', 'sm')
             OR s IN ('facebook', 'instagram', 'twitter', 'x', 'linkedin', 'tiktok', 'pinterest', 'youtube', 'reddit')
             OR h ~ '(^|\.)(facebook\.com|instagram\.com|t\.co|twitter\.com|x\.com|linkedin\.com|tiktok\.com|pinterest\.com|youtube\.com|reddit\.com)$'
            THEN 'social'
        WHEN m = 'affiliate' THEN 'affiliate'
        WHEN m = 'organic'
             OR h ~ '(^|\.)(google\.[a-z.]+|bing\.com|duckduckgo\.com|search\.yahoo\.com|yandex\.[a-z]+|baidu\.com|ecosia\.org)$'
            THEN 'organic_search'
        WHEN m = 'referral' OR h IS NOT NULL THEN 'referral'
        WHEN s IS NOT NULL OR m IS NOT NULL THEN 'other'
        ELSE 'direct'
    END
      FROM (SELECT nullif(pg_catalog.lower(pg_catalog.btrim(utm_source)), '') AS s,
                   nullif(pg_catalog.lower(pg_catalog.btrim(utm_medium)), '') AS m,
                   skeldir._url_host(referrer) AS h) AS touch
$$;
COMMENT ON FUNCTION skeldir._channel(text, text, text) IS
    'Deterministic channel: paid | email | social | affiliate | referral | organic_search | other | direct.';

COMMIT;
