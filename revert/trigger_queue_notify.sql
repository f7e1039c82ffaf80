-- Revert skeldir:trigger_queue_notify from pg
BEGIN;

DO $$
DECLARE
    _queue text;
BEGIN
    FOREACH _queue IN ARRAY '{attribution,maintenance,llm,housekeeping}'::text[] LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER trigger_notify_queue_insert_listeners ON pgmq.%I', 'q_' || _queue);
        EXECUTE pg_catalog.format(
            'CREATE CONSTRAINT TRIGGER trigger_notify_queue_insert_listeners AFTER INSERT ON pgmq.%I '
            'DEFERRABLE FOR EACH ROW EXECUTE PROCEDURE pgmq.notify_queue_listeners()', 'q_' || _queue);
    END LOOP;
END;
$$;
DROP FUNCTION skeldir._queue_notify_insert();

COMMIT;
