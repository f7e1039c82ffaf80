-- Verify skeldir:table_dead_letter on pg
SELECT tenant_id, id, vendor, route, reason, detail, headers, payload, body_sha256,
       body_bytes, customer_ref, received_at, replayed_at, replay_outcome, replay_event_id
  FROM skeldir.dead_letters
 WHERE false;
SELECT 1 / pg_catalog.count(*)::integer
  FROM pg_catalog.pg_class
 WHERE oid = 'skeldir.dead_letters'::regclass AND relrowsecurity AND relforcerowsecurity;
