-- Revert skeldir:index_attribution_event_ref from pg
BEGIN;

DROP INDEX skeldir.attribution_events_payment_ref_idx;
DROP INDEX skeldir.attribution_events_order_ref_idx;
DROP INDEX skeldir.attribution_events_customer_idx;

COMMIT;
