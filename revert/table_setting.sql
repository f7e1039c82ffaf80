-- Revert skeldir:table_setting from pg
BEGIN;

DROP TABLE skeldir.settings;

COMMIT;
