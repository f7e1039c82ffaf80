-- Verify skeldir:function_webhook_map_shopify on pg
SELECT 'skeldir._map_shopify(jsonb, jsonb)'::regprocedure,
       'skeldir._shopify_refund(jsonb, text, text)'::regprocedure,
       'skeldir._project_shopify(jsonb)'::regprocedure,
       'skeldir._project_shopify_refund(jsonb)'::regprocedure;
SELECT 1 / ((skeldir._map_shopify('{"x-shopify-topic": "orders/create", "x-shopify-webhook-id": "w1"}',
             '{"id": 9007199254740993, "currency": "USD", "total_price": "10.01", "created_at": "2024-01-01T00:00:00Z"}'))[1].fact_key
            = 'order:9007199254740993')::integer;
