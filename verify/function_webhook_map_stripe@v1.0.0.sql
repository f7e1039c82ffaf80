-- Verify skeldir:function_webhook_map_stripe on pg
SELECT 'skeldir._map_stripe(jsonb, jsonb)'::regprocedure,
       'skeldir._project_stripe(jsonb)'::regprocedure;
