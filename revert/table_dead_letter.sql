-- Revert skeldir:table_dead_letter from pg
BEGIN;

DROP TABLE skeldir.dead_letters;

COMMIT;
