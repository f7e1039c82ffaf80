-- Verify skeldir:trigger_queue_notify on pg
DO $$
BEGIN
    IF (SELECT count(*) FROM pg_catalog.pg_trigger AS t
         WHERE t.tgname = 'trigger_notify_queue_insert_listeners'
           AND t.tgfoid = 'skeldir._queue_notify_insert()'::regprocedure
           AND t.tgrelid IN ('pgmq.q_attribution'::regclass, 'pgmq.q_maintenance'::regclass,
                             'pgmq.q_llm'::regclass, 'pgmq.q_housekeeping'::regclass)) <> 4 THEN
        RAISE EXCEPTION 'the task queues do not all notify through skeldir._queue_notify_insert()'
            USING ERRCODE = 'undefined_object';
    END IF;
END;
$$;
