-- Verify skeldir:table_currency on pg
SELECT code, exponent FROM skeldir.currencies WHERE false;
SELECT 1 / (pg_catalog.count(*) FILTER (WHERE (code, exponent) IN (('JPY', 0), ('USD', 2), ('KWD', 3))) / 3)::integer
  FROM skeldir.currencies;
