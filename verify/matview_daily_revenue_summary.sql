-- Verify skeldir:matview_daily_revenue_summary on pg

SELECT tenant_id, day, currency, order_count, order_minor, payment_count, payment_minor,
       refund_count, refund_minor, event_count
  FROM skeldir.mv_daily_revenue_summary
 WHERE false;
SELECT 'skeldir.mv_daily_revenue_summary_key'::regclass;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.mv_daily_revenue_summary', 'SELECT')
       OR pg_catalog.has_table_privilege('app_ro', 'skeldir.mv_daily_revenue_summary', 'SELECT') THEN
        RAISE EXCEPTION 'an app role can select skeldir.mv_daily_revenue_summary directly' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT (SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_catalog.pg_class AS c
             WHERE c.oid = 'skeldir.mv_daily_revenue_summary'::regclass) THEN
        RAISE EXCEPTION 'skeldir.mv_daily_revenue_summary does not force row-level security' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
