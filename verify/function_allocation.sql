-- Verify skeldir:function_allocation on pg
SELECT 'skeldir._allocation_split(bigint, text[], bigint[])'::regprocedure,
       'skeldir._allocation_model(bigint, text, text[])'::regprocedure,
       'skeldir._touchpoints(skeldir.attribution_events, text)'::regprocedure;
