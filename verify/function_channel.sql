-- Verify skeldir:function_channel on pg
SELECT 1 / (skeldir._channel('google', 'cpc', NULL) = 'paid'
            AND skeldir._channel(NULL, NULL, NULL) = 'direct'
            AND skeldir._channel(NULL, NULL, 'https://www.google.com/search?q=x') = 'organic_search')::integer;
