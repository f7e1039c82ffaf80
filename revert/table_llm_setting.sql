-- Revert skeldir:table_llm_setting from pg
BEGIN;

DROP TABLE skeldir.llm_settings;

COMMIT;
