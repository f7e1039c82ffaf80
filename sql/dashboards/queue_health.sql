-- Dashboard: broker truth from pgmq for every queue (global, no tenant needed): messages
-- in the queue, visible now, age of the oldest and newest message, total ever sent.
SELECT q.queue_name,
       q.depth,
       q.visible,
       q.oldest_age_seconds,
       q.newest_age_seconds,
       q.total_sent
  FROM api.dashboard_queue_health() AS q
 ORDER BY q.queue_name;
