-- Deploy skeldir:function_tenant_read to pg
BEGIN;

/** A date request parameter (YYYY-MM-DD), or `fallback` when absent. Raises 22023 naming it. */
CREATE FUNCTION skeldir._param_date(value text, name text, fallback date) RETURNS date
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
    IF value IS NULL THEN
        RETURN fallback;
    END IF;
    IF value ~ '^\d{4}-\d{2}-\d{2}$' THEN
        BEGIN
            RETURN value::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            NULL;  -- e.g. 2026-02-30: reported below like any malformed date
        END;
    END IF;
    RAISE EXCEPTION 'invalid parameter "%"', name
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = pg_catalog.format('"%s" must be a calendar date YYYY-MM-DD, got %s', name, pg_catalog.left(value, 40)),
              HINT = 'Example: from=2026-11-01&to=2026-11-30';
END;
$$;
COMMENT ON FUNCTION skeldir._param_date(text, text, date) IS 'Parse a YYYY-MM-DD request parameter. Raises 22023.';

/** An integer request parameter within lo..hi, or `fallback` when absent. Raises 22023 naming it. */
CREATE FUNCTION skeldir._param_int(value text, name text, fallback integer, lo integer, hi integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
    IF value IS NULL THEN
        RETURN fallback;
    END IF;
    IF value ~ '^\d{1,9}$' AND value::integer BETWEEN lo AND hi THEN
        RETURN value::integer;
    END IF;
    RAISE EXCEPTION 'invalid parameter "%"', name
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = pg_catalog.format('"%s" must be an integer from %s to %s, got %s', name, lo, hi, pg_catalog.left(value, 40));
END;
$$;
COMMENT ON FUNCTION skeldir._param_int(text, text, integer, integer, integer) IS
    'Parse an integer request parameter within bounds. Raises 22023.';

/**
 * The tenant read API in one call: authenticates the tenant key (by its sha256; only
 * active tenants), validates the parameters, scopes the rest of the transaction to the
 * tenant (transaction-local GUC) and returns one page of a tenant view as JSON:
 *   {"resource", "from", "to", "limit", "offset", "total", "items": [...]}.
 * Resources: revenue_daily (api.daily_revenue), revenue_realtime (api.realtime_revenue),
 * channels (api.channel_performance), allocations_summary (api.allocation_summary summed
 * over the range per model, channel, currency), reconciliation (api.reconciliation_status).
 * Parameters (strings, as in a query string): from, to (YYYY-MM-DD, inclusive; default the
 * 30 days up to today UTC, at most 366 days), limit (1..1000, default 100), offset (>= 0).
 * Runs as its owner: app roles cannot read tenants; the key, not a GUC, proves the tenant.
 * Raises 28000 for an unknown or suspended key, 22023 for a bad resource or parameter.
 */
CREATE FUNCTION api.tenant_read(api_key text, resource text, params jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _tenant uuid;
    _key    text;
    _from   date;
    _to     date;
    _limit  integer;
    _offset integer;
    _query  text;
    _total  bigint;
    _items  jsonb;
BEGIN
    SELECT t.id INTO _tenant
      FROM skeldir.tenants AS t
     WHERE t.api_key_hash = pg_catalog.sha256(pg_catalog.convert_to(coalesce(tenant_read.api_key, ''), 'UTF8'))
       AND t.status = 'active';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown tenant key' USING ERRCODE = 'invalid_authorization_specification',
            HINT = 'Send the tenant API key in the X-Skeldir-Tenant-Key header.';
    END IF;

    _query := CASE tenant_read.resource
        WHEN 'revenue_daily' THEN
            'SELECT r.* FROM api.daily_revenue AS r WHERE r.day BETWEEN $1 AND $2 ORDER BY r.day, r.currency'
        WHEN 'revenue_realtime' THEN
            'SELECT r.* FROM api.realtime_revenue AS r
              WHERE r.bucket >= $1::timestamp AT TIME ZONE ''UTC'' AND r.bucket < ($2 + 1)::timestamp AT TIME ZONE ''UTC''
              ORDER BY r.bucket, r.currency'
        WHEN 'channels' THEN
            'SELECT r.* FROM api.channel_performance AS r WHERE r.day BETWEEN $1 AND $2
              ORDER BY r.day, r.channel, r.currency'
        WHEN 'allocations_summary' THEN
            'SELECT r.model, r.channel, r.currency, pg_catalog.sum(r.event_count)::bigint AS event_count,
                    pg_catalog.sum(r.allocated_minor)::bigint AS allocated_minor
               FROM api.allocation_summary AS r WHERE r.day BETWEEN $1 AND $2
              GROUP BY r.model, r.channel, r.currency ORDER BY r.model, r.channel, r.currency'
        WHEN 'reconciliation' THEN
            'SELECT r.* FROM api.reconciliation_status AS r WHERE r.day BETWEEN $1 AND $2
              ORDER BY r.day, r.status, r.currency'
    END;
    IF _query IS NULL THEN
        RAISE EXCEPTION 'unknown resource %', coalesce(tenant_read.resource, '(none)')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Resources: revenue_daily, revenue_realtime, channels, allocations_summary, reconciliation.';
    END IF;
    IF tenant_read.params IS NULL OR pg_catalog.jsonb_typeof(tenant_read.params) <> 'object' THEN
        RAISE EXCEPTION 'parameters must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR _key IN SELECT k FROM pg_catalog.jsonb_object_keys(tenant_read.params) AS k ORDER BY k LOOP
        IF _key NOT IN ('from', 'to', 'limit', 'offset') THEN
            RAISE EXCEPTION 'unknown parameter "%"', pg_catalog.left(_key, 40)
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('unknown parameter "%s"', pg_catalog.left(_key, 40)),
                      HINT = 'Parameters: from, to (YYYY-MM-DD), limit (1..1000), offset (>= 0).';
        END IF;
    END LOOP;
    _to := skeldir._param_date(tenant_read.params ->> 'to', 'to', (pg_catalog.now() AT TIME ZONE 'UTC')::date);
    _from := skeldir._param_date(tenant_read.params ->> 'from', 'from', _to - 30);
    IF _from > _to THEN
        RAISE EXCEPTION 'invalid date range' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = pg_catalog.format('"from" (%s) is after "to" (%s)', _from, _to);
    END IF;
    IF _to - _from > 366 THEN
        RAISE EXCEPTION 'invalid date range' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = pg_catalog.format('the range %s..%s spans more than 366 days', _from, _to);
    END IF;
    _limit := skeldir._param_int(tenant_read.params ->> 'limit', 'limit', 100, 1, 1000);
    _offset := skeldir._param_int(tenant_read.params ->> 'offset', 'offset', 0, 0, 999999999);

    PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
    EXECUTE pg_catalog.format(
        'SELECT (SELECT pg_catalog.count(*) FROM (%1$s) AS a),
                (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(p)), ''[]'')
                   FROM (%1$s LIMIT $3 OFFSET $4) AS p)', _query)
       INTO _total, _items
      USING _from, _to, _limit, _offset;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);

    RETURN pg_catalog.jsonb_build_object(
        'resource', tenant_read.resource, 'from', _from, 'to', _to, 'limit', _limit,
        'offset', _offset, 'total', _total, 'items', _items);
END;
$$;
COMMENT ON FUNCTION api.tenant_read(text, text, jsonb) IS
    'Tenant read API: authenticate the key, validate, return one page of a tenant view as JSON. Raises 28000, 22023.';
REVOKE ALL ON FUNCTION api.tenant_read(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.tenant_read(text, text, jsonb) TO app_rw, app_ro;

COMMIT;
