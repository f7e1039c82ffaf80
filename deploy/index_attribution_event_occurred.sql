-- Deploy skeldir:index_attribution_event_occurred to pg
BEGIN;

/*
 * mv_realtime_revenue covers the last 24 hours of occurred_at, and each refresh used to read
 * the whole events table to find them. Events arrive roughly in occurred_at order, so a BRIN
 * index (a few pages per million rows; an insert only widens the summary of the last block
 * range) lets the refresh read only the block ranges that can hold the last day. A range is
 * summarized once it is full (autosummarize: an autovacuum work item) or by VACUUM; until then
 * it is always read. On a young database where everything is recent the planner still scans
 * the table, which is then the same work.
 */
CREATE INDEX attribution_events_occurred_brin ON skeldir.attribution_events USING brin (occurred_at)
    WITH (autosummarize = on);

COMMIT;
