-- Verify skeldir:matview_channel_performance on pg
SELECT tenant_id, day, channel, currency, order_count, order_minor, payment_count, payment_minor, refund_count, refund_minor, net_minor
  FROM skeldir.mv_channel_performance
 WHERE false;
SELECT 'skeldir.mv_channel_performance_key'::regclass;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.mv_channel_performance', 'SELECT')
       OR pg_catalog.has_table_privilege('app_ro', 'skeldir.mv_channel_performance', 'SELECT') THEN
        RAISE EXCEPTION 'an app role can select skeldir.mv_channel_performance directly' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class AS c
         WHERE c.oid = 'skeldir.mv_channel_performance'::regclass) <> 'matview_owner' THEN
        RAISE EXCEPTION 'skeldir.mv_channel_performance is not owned by matview_owner' USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;
