-- Dashboard: webhook ingestion outcomes of the current tenant per UTC day and vendor, last
-- 7 days: accepted events, dead letters, unauthorized (bad or stale signature) and ignored
-- (unsupported topic) deliveries. Duplicates store nothing and are not counted here.
SELECT o.day,
       o.vendor,
       sum(o.n) FILTER (WHERE o.outcome = 'accepted')::bigint AS accepted,
       sum(o.n) FILTER (WHERE o.outcome = 'dead_lettered')::bigint AS dead_lettered,
       sum(o.n) FILTER (WHERE o.outcome = 'unauthorized')::bigint AS unauthorized,
       sum(o.n) FILTER (WHERE o.outcome = 'ignored')::bigint AS ignored
  FROM (SELECT (e.received_at AT TIME ZONE 'UTC')::date AS day, e.vendor, 'accepted' AS outcome, count(*) AS n
          FROM api.events AS e
         WHERE e.received_at >= now() - interval '7 days'
         GROUP BY 1, 2
        UNION ALL
        SELECT (d.received_at AT TIME ZONE 'UTC')::date, d.vendor, 'dead_lettered', count(*)
          FROM api.dead_letters AS d
         WHERE d.received_at >= now() - interval '7 days'
         GROUP BY 1, 2
        UNION ALL
        SELECT c.day, c.vendor, c.outcome, sum(c.count)
          FROM api.dashboard_ingest_counters AS c
         WHERE c.day >= (now() AT TIME ZONE 'UTC')::date - 6
         GROUP BY 1, 2, 3) AS o
 GROUP BY o.day, o.vendor
 ORDER BY o.day DESC, o.vendor;
