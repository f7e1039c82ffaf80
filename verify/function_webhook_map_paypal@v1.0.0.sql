-- Verify skeldir:function_webhook_map_paypal on pg
SELECT 'skeldir._map_paypal(jsonb, jsonb)'::regprocedure,
       'skeldir._project_paypal(jsonb)'::regprocedure;
SELECT 1 / ((skeldir._map_paypal('{}', '{"id": "WH-1", "event_type": "PAYMENT.CAPTURE.REFUNDED", "create_time": "2024-01-01T00:00:00Z",
             "resource": {"id": "R1", "amount": {"value": "1.005", "currency_code": "KWD"}}}'))[1].amount_minor = -1005)::integer;
