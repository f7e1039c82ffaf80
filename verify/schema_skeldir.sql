-- Verify skeldir:schema_skeldir on pg
SELECT pg_catalog.has_schema_privilege('skeldir', 'USAGE');
DO $$
BEGIN
    IF NOT pg_catalog.has_schema_privilege('app_rw', 'skeldir', 'USAGE')
       OR pg_catalog.has_schema_privilege('app_rw', 'skeldir', 'CREATE') THEN
        RAISE EXCEPTION 'schema skeldir: app_rw must have USAGE and no CREATE'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
