-- The oracle of the read models: their definitions as full recomputations from the base
-- tables (the materialized-view queries they had before they were kept by group), and a
-- view of every row where a read model and its oracle differ. Plain SQL, no psql
-- meta-commands, so pgTAP suites (\ir) and pytest (executed as is) share it. Temporary:
-- it vanishes with the session. Run as a role that reads every tenant (a superuser).

CREATE TEMP VIEW oracle_daily_revenue_summary AS
SELECT e.tenant_id,
       (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
       e.currency::text AS currency,
       count(*) FILTER (WHERE e.kind = 'order') AS order_count,
       coalesce(sum(e.amount_minor) FILTER (WHERE e.kind = 'order'), 0)::bigint AS order_minor,
       count(*) FILTER (WHERE e.kind = 'payment') AS payment_count,
       coalesce(sum(e.amount_minor) FILTER (WHERE e.kind = 'payment'), 0)::bigint AS payment_minor,
       count(*) FILTER (WHERE e.kind = 'refund') AS refund_count,
       coalesce(sum(e.amount_minor) FILTER (WHERE e.kind = 'refund'), 0)::bigint AS refund_minor,
       count(*) AS event_count
  FROM skeldir.attribution_events AS e
 GROUP BY 1, 2, 3;

-- Whole 5-minute buckets, from the one that holds now() - 24 hours on.
CREATE TEMP VIEW oracle_realtime_revenue AS
SELECT e.tenant_id,
       date_bin('5 minutes', e.occurred_at, '2000-01-01 00:00:00+00') AS bucket,
       e.currency::text AS currency,
       count(*) FILTER (WHERE e.kind = 'order') AS order_count,
       coalesce(sum(e.amount_minor) FILTER (WHERE e.kind = 'order'), 0)::bigint AS order_minor,
       count(*) FILTER (WHERE e.kind = 'payment') AS payment_count,
       coalesce(sum(e.amount_minor) FILTER (WHERE e.kind = 'payment'), 0)::bigint AS payment_minor,
       count(*) FILTER (WHERE e.kind = 'refund') AS refund_count,
       coalesce(sum(e.amount_minor) FILTER (WHERE e.kind = 'refund'), 0)::bigint AS refund_minor
  FROM skeldir.attribution_events AS e
 WHERE date_bin('5 minutes', e.occurred_at, '2000-01-01 00:00:00+00')
       >= date_bin('5 minutes', now() - interval '24 hours', '2000-01-01 00:00:00+00')
 GROUP BY 1, 2, 3;

CREATE TEMP VIEW oracle_channel_performance AS
SELECT a.tenant_id,
       (a.occurred_at AT TIME ZONE 'UTC')::date AS day,
       a.channel,
       a.currency::text AS currency,
       count(*) FILTER (WHERE a.kind = 'order') AS order_count,
       coalesce(sum(a.amount_minor) FILTER (WHERE a.kind = 'order'), 0)::bigint AS order_minor,
       count(*) FILTER (WHERE a.kind = 'payment') AS payment_count,
       coalesce(sum(a.amount_minor) FILTER (WHERE a.kind = 'payment'), 0)::bigint AS payment_minor,
       count(*) FILTER (WHERE a.kind = 'refund') AS refund_count,
       coalesce(sum(a.amount_minor) FILTER (WHERE a.kind = 'refund'), 0)::bigint AS refund_minor,
       sum(a.amount_minor)::bigint AS net_minor
  FROM skeldir.allocations AS a
 GROUP BY 1, 2, 3, 4;

CREATE TEMP VIEW oracle_allocation_summary AS
SELECT a.tenant_id,
       (a.occurred_at AT TIME ZONE 'UTC')::date AS day,
       a.model,
       a.channel,
       a.currency::text AS currency,
       count(*) AS event_count,
       sum(a.amount_minor)::bigint AS allocated_minor
  FROM skeldir.allocations AS a
 GROUP BY 1, 2, 3, 4, 5;

CREATE TEMP VIEW oracle_reconciliation_status AS
SELECT r.tenant_id,
       (r.first_seen_at AT TIME ZONE 'UTC')::date AS day,
       r.status,
       coalesce(r.order_currency, r.payment_currency, 'XXX')::text AS currency,
       count(*) AS ref_count,
       coalesce(sum(r.order_minor), 0)::bigint AS order_minor,
       coalesce(sum(r.payment_minor), 0)::bigint AS payment_minor
  FROM skeldir.reconciliations AS r
 GROUP BY 1, 2, 3, 4;

-- Every row that is in a read model and not in its oracle ('extra') or the other way round
-- ('missing'), as text. Empty when all five equal their full recomputation, row by row.
CREATE TEMP VIEW read_model_mismatches AS
SELECT 'mv_daily_revenue_summary' AS view_name, 'extra' AS side, x::text AS row_text
  FROM (SELECT * FROM skeldir.mv_daily_revenue_summary EXCEPT ALL SELECT * FROM oracle_daily_revenue_summary) AS x
UNION ALL
SELECT 'mv_daily_revenue_summary', 'missing', x::text
  FROM (SELECT * FROM oracle_daily_revenue_summary EXCEPT ALL SELECT * FROM skeldir.mv_daily_revenue_summary) AS x
UNION ALL
SELECT 'mv_realtime_revenue', 'extra', x::text
  FROM (SELECT * FROM skeldir.mv_realtime_revenue EXCEPT ALL SELECT * FROM oracle_realtime_revenue) AS x
UNION ALL
SELECT 'mv_realtime_revenue', 'missing', x::text
  FROM (SELECT * FROM oracle_realtime_revenue EXCEPT ALL SELECT * FROM skeldir.mv_realtime_revenue) AS x
UNION ALL
SELECT 'mv_channel_performance', 'extra', x::text
  FROM (SELECT * FROM skeldir.mv_channel_performance EXCEPT ALL SELECT * FROM oracle_channel_performance) AS x
UNION ALL
SELECT 'mv_channel_performance', 'missing', x::text
  FROM (SELECT * FROM oracle_channel_performance EXCEPT ALL SELECT * FROM skeldir.mv_channel_performance) AS x
UNION ALL
SELECT 'mv_allocation_summary', 'extra', x::text
  FROM (SELECT * FROM skeldir.mv_allocation_summary EXCEPT ALL SELECT * FROM oracle_allocation_summary) AS x
UNION ALL
SELECT 'mv_allocation_summary', 'missing', x::text
  FROM (SELECT * FROM oracle_allocation_summary EXCEPT ALL SELECT * FROM skeldir.mv_allocation_summary) AS x
UNION ALL
SELECT 'mv_reconciliation_status', 'extra', x::text
  FROM (SELECT * FROM skeldir.mv_reconciliation_status EXCEPT ALL SELECT * FROM oracle_reconciliation_status) AS x
UNION ALL
SELECT 'mv_reconciliation_status', 'missing', x::text
  FROM (SELECT * FROM oracle_reconciliation_status EXCEPT ALL SELECT * FROM skeldir.mv_reconciliation_status) AS x;
