-- Deploy skeldir:privileges_revoke_public_execute to pg
-- Every function migration_owner creates from here on starts with no EXECUTE for PUBLIC;
-- each change grants exactly the roles that need it.
BEGIN;

ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

COMMIT;
