-- Revert skeldir:function_channel from pg
BEGIN;

DROP FUNCTION skeldir._channel(text, text, text);
DROP FUNCTION skeldir._url_host(text);

COMMIT;
