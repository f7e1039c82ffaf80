-- Revert skeldir:function_session_identity from pg
BEGIN;

DROP FUNCTION api.session_identity();

COMMIT;
