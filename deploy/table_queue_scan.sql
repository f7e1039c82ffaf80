-- Deploy skeldir:table_queue_scan to pg
BEGIN;

/**
 * Where the worker's read of each task queue starts: its low-water mark of msg_id, and the
 * state that moves it (skeldir._queue_scan_advance). pgmq reads a queue from its first
 * msg_id; while a long transaction holds the xmin horizon, every message consumed
 * meanwhile stays behind as a dead version that such a read visits, so an empty queue's
 * read grows with the churn. Below start_id no message exists or can ever appear, so the
 * read starts there. Not tenant data; only the owner (the worker's definer functions)
 * reads or writes it. fillfactor 10: a row updated a few times a second keeps its
 * versions on its own page (HOT), even while a held xmin keeps them all.
 */
CREATE TABLE skeldir.queue_scan (
    queue_name       text PRIMARY KEY,
    -- No message with a smaller msg_id exists in the queue or can ever be committed to it.
    start_id         bigint NOT NULL DEFAULT 0 CHECK (start_id >= 0),
    -- The last msg_id drawn from the queue's sequence at candidate_at.
    candidate_id     bigint NOT NULL DEFAULT 0,
    candidate_at     timestamptz NOT NULL DEFAULT '-infinity',
    -- A candidate being confirmed: every id up to confirm_id is committed or gone once
    -- every transaction running at confirm_snapshot has ended.
    confirm_id       bigint,
    confirm_snapshot pg_catalog.pg_snapshot,
    -- The last read of the whole queue (a safety net, see skeldir._queue_scan_advance).
    full_scan_at     timestamptz NOT NULL DEFAULT '-infinity',
    CHECK ((confirm_id IS NULL) = (confirm_snapshot IS NULL))
) WITH (fillfactor = 10);
COMMENT ON TABLE skeldir.queue_scan IS
    'Per task queue: the low-water mark of msg_id where the worker''s read starts, and its confirmation state.';

INSERT INTO skeldir.queue_scan (queue_name)
SELECT q.name FROM pg_catalog.unnest('{attribution,maintenance,housekeeping}'::text[]) AS q (name);

-- Deny-by-default: not a tenant table, but no role other than the owner reads it.
ALTER TABLE skeldir.queue_scan ENABLE ROW LEVEL SECURITY;

COMMIT;
