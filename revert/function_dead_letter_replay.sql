-- Revert skeldir:function_dead_letter_replay from pg
BEGIN;

DROP FUNCTION api.dead_letter_replay_reason(text, text);
DROP FUNCTION api.dead_letter_replay(bigint);
DROP FUNCTION api.dead_letter_list(text, text, boolean);

COMMIT;
