-- Deploy skeldir:function_health to pg
BEGIN;

/**
 * Readiness facts for GET /health/ready, checked from the caller's own connection:
 * rls_forced - every table with a tenant_id column, in any schema, has RLS enabled and
 *              forced and at least one policy;
 * tenant_guc - a transaction-local tenant GUC set now reads back through the RLS helper.
 * Leaves the GUC as it found it (set_config is transaction-local, the probe restores it).
 */
CREATE FUNCTION api.health_ready(OUT rls_forced boolean, OUT tenant_guc boolean)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _probe  uuid := pg_catalog.md5(pg_catalog.random()::text)::uuid;
    _before text := pg_catalog.current_setting('app.current_tenant_id', true);
BEGIN
    -- Any schema, not only skeldir: a tenant table created elsewhere must not slip through.
    SELECT coalesce(pg_catalog.bool_and(
               c.relrowsecurity AND c.relforcerowsecurity
               AND EXISTS (SELECT FROM pg_catalog.pg_policy AS p WHERE p.polrelid = c.oid)), false)
      INTO rls_forced
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
       AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped);
    PERFORM pg_catalog.set_config('app.current_tenant_id', _probe::text, true);
    tenant_guc := skeldir.current_tenant_id() IS NOT DISTINCT FROM _probe;
    PERFORM pg_catalog.set_config('app.current_tenant_id', coalesce(_before, ''), true);
END;
$$;
COMMENT ON FUNCTION api.health_ready() IS 'Readiness: RLS forced on all tenant tables; tenant GUC round-trips.';
GRANT EXECUTE ON FUNCTION api.health_ready() TO app_rw, app_ro;

COMMIT;
