-- Revert skeldir:schema_skeldir from pg
BEGIN;

DROP SCHEMA skeldir;

COMMIT;
