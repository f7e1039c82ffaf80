-- Revert skeldir:table_currency from pg
BEGIN;

DROP TABLE skeldir.currencies;

COMMIT;
