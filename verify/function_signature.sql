-- Verify skeldir:function_signature on pg
SELECT 'skeldir._secure_equal(bytea, bytea)'::regprocedure,
       'skeldir._stripe_signature_valid(text, bytea, text[], interval)'::regprocedure;
SELECT 1 / (skeldir._secure_equal('\x01', '\x01') AND NOT skeldir._secure_equal('\x01', '\x02'))::integer;
