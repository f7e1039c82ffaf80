-- Verify skeldir:table_worker_heartbeat on pg
SELECT worker_id, pid, host, queues, started_at, last_seen_at FROM skeldir.worker_heartbeats WHERE false;
