-- Revert skeldir:function_webhook_receive_batch from pg
BEGIN;

DROP FUNCTION api.webhook_receive_batch(text[], text[], jsonb[], bytea[], text[], interval);

COMMIT;
