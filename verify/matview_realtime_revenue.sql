-- Verify skeldir:matview_realtime_revenue on pg
-- The relation and its columns. A materialized view here; from the rework of
-- read_model_upkeep on, a view of the same name over skeldir.realtime_revenue, so the
-- matview's own index and owner are checked only while it is one.
SELECT tenant_id, bucket, currency, order_count, order_minor, payment_count, payment_minor, refund_count, refund_minor
  FROM skeldir.mv_realtime_revenue
 WHERE false;
DO $$
BEGIN
    IF pg_catalog.has_table_privilege('app_user', 'skeldir.mv_realtime_revenue', 'SELECT')
       OR pg_catalog.has_table_privilege('app_ro', 'skeldir.mv_realtime_revenue', 'SELECT') THEN
        RAISE EXCEPTION 'an app role can select skeldir.mv_realtime_revenue directly' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = 'skeldir.mv_realtime_revenue'::regclass) = 'm' THEN
        PERFORM 'skeldir.mv_realtime_revenue_key'::regclass;
        IF (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class AS c
             WHERE c.oid = 'skeldir.mv_realtime_revenue'::regclass) <> 'matview_owner' THEN
            RAISE EXCEPTION 'skeldir.mv_realtime_revenue is not owned by matview_owner' USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
END;
$$;
