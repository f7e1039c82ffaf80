-- Verify skeldir:index_attribution_event_ref on pg
SELECT 'skeldir.attribution_events_customer_idx'::regclass,
       'skeldir.attribution_events_order_ref_idx'::regclass,
       'skeldir.attribution_events_payment_ref_idx'::regclass;
