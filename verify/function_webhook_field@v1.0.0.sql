-- Verify skeldir:function_webhook_field on pg
SELECT 'skeldir._field(jsonb, text, text)'::regprocedure,
       'skeldir._text(jsonb, text)'::regprocedure,
       'skeldir._ident(jsonb, text)'::regprocedure,
       'skeldir._optional_ident(jsonb, text)'::regprocedure,
       'skeldir._currency(text)'::regprocedure,
       'skeldir._minor_units(text, text)'::regprocedure,
       'skeldir._minor_integer(jsonb, text)'::regprocedure,
       'skeldir._query_param(text, text)'::regprocedure,
       'skeldir._timestamp(jsonb, text)'::regprocedure,
       'skeldir._decimal(jsonb, text)'::regprocedure,
       'skeldir.webhook_event'::regtype;
SELECT 1 / (skeldir._minor_units('12.345', 'KWD') = 12345 AND skeldir._minor_units('500', 'JPY') = 500)::integer;
SELECT 1 / (skeldir._timestamp('{"t": "2024-01-01T10:00:00"}', 't') = '2024-01-01 10:00:00+00')::integer;
