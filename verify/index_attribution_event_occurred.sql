-- Verify skeldir:index_attribution_event_occurred on pg
SELECT 'skeldir.attribution_events_occurred_brin'::regclass;
