-- Verify skeldir:table_currency on pg
SELECT code, exponent FROM skeldir.currencies WHERE false;
SELECT 1 / (pg_catalog.count(*) FILTER (WHERE (code, exponent) IN (('JPY', 0), ('USD', 2), ('KWD', 3))) / 3)::integer
  FROM skeldir.currencies;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_rw', 'skeldir.currencies', 'SELECT')
       OR pg_catalog.has_table_privilege('app_ro', 'skeldir.currencies', 'SELECT') THEN
        RAISE EXCEPTION 'app roles must hold no privilege on skeldir.currencies'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
