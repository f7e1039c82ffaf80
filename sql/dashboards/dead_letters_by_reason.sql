-- Dashboard: dead letters of the current tenant by vendor and reason code; pending ones
-- wait for a mapping fix and `skeldir dlq replay`.
SELECT d.vendor,
       d.reason,
       count(*) AS total,
       count(*) FILTER (WHERE d.replayed_at IS NULL) AS pending,
       count(*) FILTER (WHERE d.replayed_at IS NOT NULL) AS replayed,
       min(d.received_at) FILTER (WHERE d.replayed_at IS NULL) AS oldest_pending_at,
       max(d.received_at) AS newest_at
  FROM api.dead_letters AS d
 GROUP BY d.vendor, d.reason
 ORDER BY pending DESC, total DESC, d.vendor, d.reason;
