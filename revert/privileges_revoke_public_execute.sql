-- Revert skeldir:privileges_revoke_public_execute from pg
BEGIN;

ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;

COMMIT;
