-- Verify skeldir:function_webhook_field on pg
SELECT 'skeldir._field(jsonb, text, text)'::regprocedure,
       'skeldir._text(jsonb, text)'::regprocedure,
       'skeldir._ident(jsonb, text)'::regprocedure,
       'skeldir._currency(text)'::regprocedure,
       'skeldir._minor_units(text, text)'::regprocedure,
       'skeldir._minor_integer(jsonb, text)'::regprocedure,
       'skeldir._query_param(text, text)'::regprocedure,
       'skeldir.webhook_event'::regtype;
SELECT 1 / (skeldir._minor_units('12.345', 'KWD') = 12345 AND skeldir._minor_units('500', 'JPY') = 500)::integer;
