-- Deploy skeldir:function_queue_metrics to pg
BEGIN;

/**
 * Broker truth for the shell's /metrics queue gauges: one row per pgmq queue, read from
 * pgmq.metrics_all() at call time. depth counts every message still in the queue (visible
 * or in flight / backing off), visible those a reader could take now; oldest_age_seconds
 * is 0 for an empty queue. Not tenant data.
 * Runs as its owner: app_user has no privilege on schema pgmq (queue_pgmq revokes it).
 */
CREATE FUNCTION api.queue_metrics()
RETURNS TABLE (queue_name text, depth bigint, visible bigint, oldest_age_seconds integer, sent_total bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT m.queue_name, m.queue_length, m.queue_visible_length, coalesce(m.oldest_msg_age_sec, 0), m.total_messages
      FROM pgmq.metrics_all() AS m
     ORDER BY m.queue_name
$$;
COMMENT ON FUNCTION api.queue_metrics() IS
    'Per pgmq queue: depth, visible depth, oldest message age (s), messages ever sent. Raises nothing of its own.';
REVOKE ALL ON FUNCTION api.queue_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.queue_metrics() TO app_rw;

COMMIT;
