-- Verify skeldir:function_webhook_map_woocommerce on pg
SELECT 'skeldir._map_woocommerce(jsonb, jsonb)'::regprocedure,
       'skeldir._project_woocommerce(jsonb)'::regprocedure;
SELECT 1 / ((skeldir._map_woocommerce('{"x-wc-webhook-topic": "order.updated"}',
             '{"id": 7, "status": "completed", "currency": "EUR", "total": "5.00", "date_modified_gmt": "2024-01-01T00:00:00"}'))[1].amount_minor
            = 500)::integer;
