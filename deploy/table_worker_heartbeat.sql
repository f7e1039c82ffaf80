-- Deploy skeldir:table_worker_heartbeat to pg
BEGIN;

/** One row per worker process, upserted every few seconds while it runs. Not tenant data. */
CREATE TABLE skeldir.worker_heartbeats (
    worker_id    uuid PRIMARY KEY,
    pid          integer NOT NULL,
    host         text NOT NULL,
    queues       text[] NOT NULL,
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skeldir.worker_heartbeats IS 'Live workers: identity, queues and last heartbeat.';

ALTER TABLE skeldir.worker_heartbeats ENABLE ROW LEVEL SECURITY;

COMMIT;
