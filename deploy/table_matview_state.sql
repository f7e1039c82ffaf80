-- Deploy skeldir:table_matview_state to pg
BEGIN;

/**
 * Per materialized view: a dirty flag and a generation counter. Writers bump the
 * generation; a refresh clears the flag only if the generation it started from is still
 * current, so a write that lands during a refresh is never lost.
 */
CREATE TABLE skeldir.matview_state (
    view_name    text PRIMARY KEY,
    dirty        boolean NOT NULL DEFAULT true,
    generation   bigint NOT NULL DEFAULT 0,
    dirtied_at   timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz
);
COMMENT ON TABLE skeldir.matview_state IS 'Dirty flags of the materialized views.';

/**
 * Every refresh attempt: which view, why, when, how long, how many rows, how it ended.
 * For a read-model table (a rebuild; their deltas are applied at each writer's commit and
 * not logged here) rows are the rows written and groups the (tenant, day) groups; for a
 * materialized view rows are its rows after the refresh and groups is NULL.
 */
CREATE TABLE skeldir.matview_refresh_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_name   text NOT NULL,
    trigger     text NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    rows        bigint,
    groups      bigint,
    outcome     text NOT NULL CHECK (outcome IN ('refreshed', 'skipped_locked', 'error')),
    error       text
);
COMMENT ON TABLE skeldir.matview_refresh_log IS 'Log of materialized-view refreshes.';
CREATE INDEX matview_refresh_log_view_idx ON skeldir.matview_refresh_log (view_name, started_at DESC);

-- matview_owner (sql/bootstrap.sql) owns the matviews and reads what they aggregate.
GRANT USAGE, CREATE ON SCHEMA skeldir TO matview_owner;
GRANT SELECT ON skeldir.attribution_events, skeldir.allocations TO matview_owner;

ALTER TABLE skeldir.matview_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE skeldir.matview_refresh_log ENABLE ROW LEVEL SECURITY;

COMMIT;
