-- Verify skeldir:matview_daily_revenue_summary on pg
SELECT tenant_id, day, currency, order_count, order_minor, payment_count, payment_minor,
       refund_count, refund_minor, event_count
  FROM skeldir.mv_daily_revenue_summary
 WHERE false;
SELECT 'skeldir.mv_daily_revenue_summary_key'::regclass;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.mv_daily_revenue_summary', 'SELECT') THEN
        RAISE EXCEPTION 'app_user can select the matview directly' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
