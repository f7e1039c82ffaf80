-- pgbench ceiling for `skeldir loadtest --ceiling`: one Stripe delivery (new) per
-- transaction, straight into api.webhook_receive as app_user. The body is the harness's own
-- template (-D body_new / body_bad, %1$s = unique part of the evt_ id); the Stripe-Signature
-- is computed here with built-in sha256 over the precomputed HMAC pads (-D ipad / opad), so
-- the signature check runs for real. That signing costs a few microseconds per transaction,
-- which lowers the ceiling slightly (reported in docs/BENCHMARKS.md).
\set n random(1, 1000000000000)
SELECT r.http_status, r.outcome
  FROM (SELECT pg_catalog.convert_to(pg_catalog.format(:body_new::text, :run::text || 'n' || :n), 'UTF8') AS body,
               pg_catalog.date_part('epoch', pg_catalog.now())::bigint::text AS ts) AS d,
       api.webhook_receive('stripe', '/webhooks/{vendor}/{endpoint_token}',
           pg_catalog.jsonb_build_object(
               'host', '127.0.0.1', 'content-type', 'application/json',
               'content-length', pg_catalog.length(d.body)::text,
               'stripe-signature', 't=' || d.ts || ',v1=' || pg_catalog.encode(pg_catalog.sha256(
                   pg_catalog.decode(:opad::text, 'hex') || pg_catalog.sha256(
                       pg_catalog.decode(:ipad::text, 'hex') || pg_catalog.convert_to(d.ts || '.', 'UTF8') || d.body)),
                   'hex')),
           d.body, :token::text) AS r;
