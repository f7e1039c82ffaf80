-- Deploy skeldir:trigger_queue_notify to pg
BEGIN;

/**
 * Insert notifications for the task queues that never make a writer wait.
 *
 * pgmq's own trigger (pgmq.notify_queue_listeners) throttles with an UPDATE of the queue's
 * row in pgmq.notify_insert_throttle. That row lock is held until the writer commits, so
 * every other transaction that enqueues while the throttle interval has elapsed waits for
 * it: with group commit (api.webhook_receive_batch) one batch stalls the next, and two
 * batches can wait on each other in a cycle. Here the throttle row is claimed with
 * FOR UPDATE SKIP LOCKED: if another transaction holds it, that transaction is about to
 * notify, so this one skips. Still at most one NOTIFY per interval and queue (each NOTIFY
 * takes the cluster-wide notify lock at commit, which is why pgmq throttles at all); the
 * worker also polls, so a skipped notification only delays a wake-up, never loses work.
 * The throttle is checked once per queue and transaction (a transaction-local setting
 * remembers it): NOTIFY is delivered at commit and folded within a transaction anyway,
 * and a group-commit batch enqueues dozens of tasks in one transaction. A subtransaction
 * that rolls back takes its NOTIFY and the setting with it.
 * Runs as the enqueuing role (the queue owner, inside definer functions). Note: calling
 * pgmq.enable_notify_insert again re-creates pgmq's trigger; re-deploy this change after.
 */
CREATE FUNCTION skeldir._queue_notify_insert() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _queue text := pg_catalog.substr(TG_TABLE_NAME, 3);  -- q_<queue>
BEGIN
    IF pg_catalog.current_setting('skeldir.notify_checked_' || _queue, true) = 'on' THEN
        RETURN NEW;
    END IF;
    PERFORM pg_catalog.set_config('skeldir.notify_checked_' || _queue, 'on', true);
    -- SKIP LOCKED: a row locked by another writer means that writer notifies; never wait.
    PERFORM FROM pgmq.notify_insert_throttle AS t
      WHERE t.queue_name = _queue
        AND (t.throttle_interval_ms = 0
             OR pg_catalog.clock_timestamp() - t.last_notified_at >= t.throttle_interval_ms * interval '1 millisecond')
        FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        UPDATE pgmq.notify_insert_throttle AS t
           SET last_notified_at = pg_catalog.clock_timestamp()
         WHERE t.queue_name = _queue;
        PERFORM pg_catalog.pg_notify('pgmq.' || TG_TABLE_NAME || '.' || TG_OP, NULL);
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION skeldir._queue_notify_insert() IS
    'Throttled pgmq insert notification that skips instead of waiting on the throttle row. Raises nothing.';

-- Same trigger name and timing as pgmq's, so pgmq.disable_notify_insert still removes it.
DO $$
DECLARE
    _queue text;
BEGIN
    FOREACH _queue IN ARRAY '{attribution,maintenance,llm,housekeeping}'::text[] LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER trigger_notify_queue_insert_listeners ON pgmq.%I', 'q_' || _queue);
        EXECUTE pg_catalog.format(
            'CREATE CONSTRAINT TRIGGER trigger_notify_queue_insert_listeners AFTER INSERT ON pgmq.%I '
            'DEFERRABLE FOR EACH ROW EXECUTE FUNCTION skeldir._queue_notify_insert()', 'q_' || _queue);
    END LOOP;
END;
$$;

COMMIT;
