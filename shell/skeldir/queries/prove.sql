-- Named queries of `skeldir prove` (loaded by skeldir.tools.prove.context.query). Each starts with
-- `-- name: NAME` and names the role it runs as. Only prove's own throwaway cluster sees them.

-- name: sessions
-- as superuser: the roles the server says each running process's connections are (SPEC §3).
-- application_name is set by prove in the DSN it hands to each process.
SELECT a.application_name, a.usename::text AS role_name, count(*) AS connections
  FROM pg_catalog.pg_stat_activity AS a
 WHERE a.application_name = ANY (%(names)s)
 GROUP BY 1, 2
 ORDER BY 1, 2;

-- name: set_role
-- as superuser, in a transaction: become the role (SET LOCAL ROLE) so that the next query describes it.
SELECT pg_catalog.set_config('role', %(role)s, true);

-- name: session_identity
-- the same function the shell and the worker assert at start-up.
SELECT role_name, is_superuser, bypass_rls, owned_objects FROM api.session_identity();

-- name: fault_grant_bypassrls
-- as superuser, only when SKELDIR_PROVE_FAULT=identity: the deliberate break of the identity gate.
ALTER ROLE app_user BYPASSRLS;

-- name: fault_revoke_bypassrls
ALTER ROLE app_user NOBYPASSRLS;

-- name: versions
-- as superuser.
SELECT pg_catalog.current_setting('server_version') AS postgres,
       (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') AS pg_cron;

-- name: leftover_schemas
-- as superuser, after sqitch revert: none of ours may remain.
SELECT n.nspname::text FROM pg_catalog.pg_namespace AS n WHERE n.nspname IN ('skeldir', 'api', 'pgmq') ORDER BY 1;

-- name: tenant_counts
-- as app_user, after api.tenant_set in the same transaction.
SELECT (SELECT count(*) FROM api.events) AS events, (SELECT count(*) FROM api.dead_letters) AS dead_letters;

-- name: tenant_event
-- as app_user under the tenant GUC.
SELECT vendor, kind, vendor_event_id, amount_minor, currency FROM api.events WHERE event_id = %(event_id)s;

-- name: tenant_allocations
-- as app_user under the tenant GUC.
SELECT channel, amount_minor FROM api.allocations WHERE event_id = %(event_id)s ORDER BY channel;

-- name: tenant_daily_revenue
-- as app_user under the tenant GUC.
SELECT coalesce(sum(order_minor), 0) AS order_minor, coalesce(sum(payment_minor), 0) AS payment_minor,
       coalesce(sum(refund_minor), 0) AS refund_minor, coalesce(sum(event_count), 0) AS event_count
  FROM api.daily_revenue;

-- name: matview_refresh_dirty
-- as migration_owner: what the pg_cron pulse does, when no worker refresh has happened yet.
SELECT view_name, outcome FROM skeldir.matview_refresh_dirty('prove');

-- name: poison_pill_send
-- as migration_owner (owner of pgmq): a task that always fails, to prove the capture path.
SELECT pgmq.send('attribution', pg_catalog.jsonb_build_object('task', 'poison_pill', 'tenant_id', %(tenant_id)s::text))
    AS msg_id;

-- name: failed_job
-- as migration_owner under the tenant GUC (the table FORCEs row-level security).
SELECT task_name, queue, retry_count, status, error_message
  FROM skeldir.worker_failed_jobs
 WHERE queue = 'attribution' AND task_id = %(msg_id)s;

-- name: queued_message
-- as migration_owner: is the message still in its queue?
SELECT count(*) AS queued FROM pgmq.q_attribution WHERE msg_id = %(msg_id)s;

-- name: paypal_pin
-- as migration_owner: pin a tenant's PayPal signing certificate and webhook subscription id.
SELECT tenant_id FROM api.tenant_secret_set(%(tenant_id)s, 'paypal', %(certificate)s, %(webhook_id)s);
