-- Deploy skeldir:table_setting to pg
BEGIN;

/**
 * One row of deployment-wide settings. The customer hash key is generated here, per
 * deployment, and never leaves the database; app roles cannot read this table.
 */
CREATE TABLE skeldir.settings (
    singleton               boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    customer_ref_key        bytea NOT NULL DEFAULT extensions.gen_random_bytes(32),
    signature_tolerance     interval NOT NULL DEFAULT '300 seconds',
    secret_rotation_window  interval NOT NULL DEFAULT '24 hours',
    task_max_retries        integer NOT NULL DEFAULT 3 CHECK (task_max_retries >= 0),
    task_backoff_base       interval NOT NULL DEFAULT '1 second',
    task_visibility_timeout integer NOT NULL DEFAULT 30 CHECK (task_visibility_timeout > 0),
    -- Between a worker batch and the refresh of the materialized view it dirtied
    -- (mv_realtime_revenue, the last day), so that a burst of batches shares one refresh.
    -- The four read-model tables need none: their writers apply deltas at commit.
    matview_refresh_delay   interval NOT NULL DEFAULT '0.5 seconds'
        CHECK (matview_refresh_delay BETWEEN '0 seconds' AND '1 hour'),
    -- The largest share of a worker's time the follow-up refreshes may take: the next one
    -- waits at least the last refresh's time x (1 - budget) / budget. A guard: a refresh
    -- reads the last day, not the history (docs/pipeline.md, Read models).
    matview_refresh_budget  numeric NOT NULL DEFAULT 0.5
        CHECK (matview_refresh_budget > 0 AND matview_refresh_budget <= 1)
);
COMMENT ON TABLE skeldir.settings IS 'Deployment-wide settings; exactly one row.';
INSERT INTO skeldir.settings DEFAULT VALUES;

-- Deny-by-default: not a tenant table, but no role other than the owner reads it.
ALTER TABLE skeldir.settings ENABLE ROW LEVEL SECURITY;

COMMIT;
