-- Verify skeldir:function_webhook_map_standard on pg
SELECT 'skeldir._map_standard(jsonb, jsonb)'::regprocedure,
       'skeldir._project_standard(jsonb)'::regprocedure;
SELECT 1 / ((skeldir._map_standard('{"webhook-id": "msg_1"}', '{"type": "refund.created", "order_ref": "1",
             "amount": "500", "currency": "JPY", "occurred_at": "2024-01-01T09:00:00+09:00"}'))[1].amount_minor = -500)::integer;
