-- Verify skeldir:schema_api on pg
SELECT pg_catalog.has_schema_privilege('api', 'USAGE');
DO $$
BEGIN
    IF NOT pg_catalog.has_schema_privilege('app_rw', 'api', 'USAGE')
       OR pg_catalog.has_schema_privilege('app_rw', 'api', 'CREATE') THEN
        RAISE EXCEPTION 'schema api: app_rw must have USAGE and no CREATE'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
