-- Verify skeldir:matview_channel_performance on pg

SELECT tenant_id, day, channel, currency, order_count, order_minor, payment_count, payment_minor,
       refund_count, refund_minor, net_minor
  FROM skeldir.mv_channel_performance
 WHERE false;
SELECT 'skeldir.mv_channel_performance_key'::regclass;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.mv_channel_performance', 'SELECT')
       OR pg_catalog.has_table_privilege('app_ro', 'skeldir.mv_channel_performance', 'SELECT') THEN
        RAISE EXCEPTION 'an app role can select skeldir.mv_channel_performance directly' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT (SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_catalog.pg_class AS c
             WHERE c.oid = 'skeldir.mv_channel_performance'::regclass) THEN
        RAISE EXCEPTION 'skeldir.mv_channel_performance does not force row-level security' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
