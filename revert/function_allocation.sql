-- Revert skeldir:function_allocation from pg
BEGIN;

DROP FUNCTION skeldir._touchpoints(skeldir.attribution_events, text);
DROP FUNCTION skeldir._allocation_model(bigint, text, text[]);
DROP FUNCTION skeldir._allocation_split(bigint, text[], bigint[]);

COMMIT;
