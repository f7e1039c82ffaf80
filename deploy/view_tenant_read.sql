-- Deploy skeldir:view_tenant_read to pg
BEGIN;

-- Tenant-facing reads (SPEC §4). Each view filters on the transaction's tenant GUC and
-- is a security_barrier, so no user-supplied predicate runs before the tenant filter.
-- The views run as their owner; the tables below also FORCE RLS, which the GUC satisfies.

/** The current tenant's canonical events (PII-free). */
CREATE VIEW api.events WITH (security_barrier) AS
SELECT e.id AS event_id, e.vendor, e.topic, e.kind, e.vendor_event_id, e.order_ref,
       e.payment_ref, e.amount_minor, e.currency::text AS currency, e.occurred_at, e.received_at,
       e.utm_source, e.utm_medium, e.utm_campaign, e.referrer, e.landing_page, e.customer_ref,
       e.payload, e.replayed_from
  FROM skeldir.attribution_events AS e
 WHERE e.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.events IS 'Canonical events of the current tenant.';

/** The current tenant's dead letters (redacted). */
CREATE VIEW api.dead_letters WITH (security_barrier) AS
SELECT d.id AS dead_event_id, d.vendor, d.route, d.reason, d.detail, d.payload, d.body_bytes,
       d.received_at, d.replayed_at, d.replay_outcome, d.replay_event_id
  FROM skeldir.dead_letters AS d
 WHERE d.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.dead_letters IS 'Dead letters of the current tenant.';

/** The current tenant's channel allocations. */
CREATE VIEW api.allocations WITH (security_barrier) AS
SELECT a.event_id, a.channel, a.model, a.amount_minor, a.currency::text AS currency,
       a.occurred_at, a.allocated_at
  FROM skeldir.allocations AS a
 WHERE a.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.allocations IS 'Channel allocations of the current tenant.';

/** The current tenant's rows of mv_daily_revenue_summary (as fresh as its last refresh). */
CREATE VIEW api.daily_revenue WITH (security_barrier) AS
SELECT m.day, m.currency, m.order_count, m.order_minor, m.payment_count, m.payment_minor,
       m.refund_count, m.refund_minor, m.event_count
  FROM skeldir.mv_daily_revenue_summary AS m
 WHERE m.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.daily_revenue IS 'Daily revenue of the current tenant.';

GRANT SELECT ON api.events, api.dead_letters, api.allocations, api.daily_revenue TO app_rw, app_ro;

COMMIT;
