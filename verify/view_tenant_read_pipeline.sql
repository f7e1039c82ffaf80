-- Verify skeldir:view_tenant_read_pipeline on pg
DO $$
DECLARE
    _v text;
BEGIN
    FOREACH _v IN ARRAY '{api.realtime_revenue,api.channel_performance,api.allocation_summary,api.reconciliation_status,api.reconciliations,api.failed_jobs}'::text[] LOOP
        IF NOT pg_catalog.has_table_privilege('app_user', _v, 'SELECT')
           OR NOT pg_catalog.has_table_privilege('app_ro', _v, 'SELECT')
           OR pg_catalog.has_table_privilege('public', _v, 'SELECT') THEN
            RAISE EXCEPTION '%: wrong SELECT grants', _v USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c
                        WHERE c.oid = _v::regclass AND 'security_barrier=true' = ANY (c.reloptions)) THEN
            RAISE EXCEPTION '%: not a security_barrier view', _v USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
