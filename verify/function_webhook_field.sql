-- Verify skeldir:function_webhook_field on pg
SELECT 'skeldir._field(jsonb, text, text)'::regprocedure,
       'skeldir._text(jsonb, text)'::regprocedure,
       'skeldir._ident(jsonb, text)'::regprocedure,
       'skeldir._optional_ident(jsonb, text)'::regprocedure,
       'skeldir._currency(text)'::regprocedure,
       'skeldir._minor_units(text, text)'::regprocedure,
       'skeldir._minor_units_at(text, text, integer)'::regprocedure,
       'skeldir._minor_integer(jsonb, text)'::regprocedure,
       'skeldir._query_param(text, text)'::regprocedure,
       'skeldir._query_param_decoded(text, text)'::regprocedure,
       'skeldir._timestamp(jsonb, text)'::regprocedure,
       'skeldir._timestamp_checked(jsonb, text)'::regprocedure,
       'skeldir._decimal(jsonb, text)'::regprocedure,
       'skeldir._field_checked(jsonb, text, text)'::regprocedure,
       'skeldir._text_checked(jsonb, text)'::regprocedure,
       'skeldir._optional_ident_checked(jsonb, text)'::regprocedure,
       'skeldir._minor_integer_checked(jsonb, text)'::regprocedure,
       'skeldir.webhook_event'::regtype;
-- The helpers read per field are single expressions the planner can inline.
SELECT 1 / (count(*) = 0)::integer
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid IN ('skeldir._field(jsonb, text, text)'::regprocedure, 'skeldir._text(jsonb, text)'::regprocedure,
                 'skeldir._ident(jsonb, text)'::regprocedure, 'skeldir._optional_ident(jsonb, text)'::regprocedure,
                 'skeldir._minor_units_at(text, text, integer)'::regprocedure,
                 'skeldir._minor_integer(jsonb, text)'::regprocedure, 'skeldir._query_param(text, text)'::regprocedure,
                 'skeldir._timestamp(jsonb, text)'::regprocedure, 'skeldir._decimal(jsonb, text)'::regprocedure)
   AND (p.prosqlbody IS NULL OR p.proconfig IS NOT NULL OR p.prosecdef OR p.provolatile = 'v');
SELECT 1 / (skeldir._minor_units('12.345', 'KWD') = 12345 AND skeldir._minor_units('500', 'JPY') = 500)::integer;
SELECT 1 / (skeldir._minor_units_at('12.345', 'KWD', 3) = 12345 AND skeldir._minor_units_at('19.9', 'USD', 2) = 1990)::integer;
SELECT 1 / (skeldir._timestamp('{"t": "2024-01-01T10:00:00"}', 't') = '2024-01-01 10:00:00+00')::integer;
SELECT 1 / (skeldir._timestamp('{"t": "2024-02-29T10:00:00+01:00"}', 't') = '2024-02-29 09:00:00+00')::integer;
SELECT 1 / (skeldir._query_param('/?a=b%20c&utm_source=x', 'utm_source') = 'x'
            AND skeldir._query_param('/?a=b%20c+d', 'a') = 'b c d')::integer;
