-- Verify skeldir:queue_pgmq on pg
SELECT 'pgmq.send(text, jsonb, integer)'::regprocedure,
       'pgmq.read(text, integer, integer, jsonb)'::regprocedure,
       'pgmq.archive(text, bigint)'::regprocedure,
       'pgmq.set_vt(text, bigint, integer)'::regprocedure,
       'pgmq.metrics_all()'::regprocedure,
       'pgmq.meta'::regclass;
