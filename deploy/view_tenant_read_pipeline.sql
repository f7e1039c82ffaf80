-- Deploy skeldir:view_tenant_read_pipeline to pg
BEGIN;

-- Tenant-facing reads of the pipeline (SPEC §4, §6): security_barrier views that filter
-- on the transaction's tenant GUC, over the four newer matviews, the reconciliation rows
-- and the failed jobs. No app role may select a matview or table itself.

/** The current tenant's last 24 hours in 5-minute buckets. */
CREATE VIEW api.realtime_revenue WITH (security_barrier) AS
SELECT m.bucket, m.currency, m.order_count, m.order_minor, m.payment_count, m.payment_minor,
       m.refund_count, m.refund_minor
  FROM skeldir.mv_realtime_revenue AS m
 WHERE m.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.realtime_revenue IS 'Realtime revenue of the current tenant (5-minute buckets, 24 hours).';

/** The current tenant's allocated revenue per day and channel. */
CREATE VIEW api.channel_performance WITH (security_barrier) AS
SELECT m.day, m.channel, m.currency, m.order_count, m.order_minor, m.payment_count, m.payment_minor,
       m.refund_count, m.refund_minor, m.net_minor
  FROM skeldir.mv_channel_performance AS m
 WHERE m.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.channel_performance IS 'Channel performance of the current tenant.';

/** The current tenant's allocation totals per day, model and channel. */
CREATE VIEW api.allocation_summary WITH (security_barrier) AS
SELECT m.day, m.model, m.channel, m.currency, m.event_count, m.allocated_minor
  FROM skeldir.mv_allocation_summary AS m
 WHERE m.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.allocation_summary IS 'Allocation summary of the current tenant.';

/** The current tenant's reconciliation states per day of first sight. */
CREATE VIEW api.reconciliation_status WITH (security_barrier) AS
SELECT m.day, m.status, m.currency, m.ref_count, m.order_minor, m.payment_minor
  FROM skeldir.mv_reconciliation_status AS m
 WHERE m.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.reconciliation_status IS 'Reconciliation status counts of the current tenant.';

/** The current tenant's reconciliation rows, one per order reference (live, not a matview). */
CREATE VIEW api.reconciliations WITH (security_barrier) AS
SELECT r.order_ref, r.status, r.order_event_id, r.order_minor, r.order_currency::text AS order_currency,
       r.payment_count, r.payment_minor, r.payment_currency::text AS payment_currency,
       r.first_seen_at, r.evaluated_at
  FROM skeldir.reconciliations AS r
 WHERE r.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.reconciliations IS 'Reconciliation of each order reference of the current tenant.';

/** The current tenant's tasks that exhausted their retries. */
CREATE VIEW api.failed_jobs WITH (security_barrier) AS
SELECT f.task_id, f.task_name, f.queue, f.retry_count, f.status, f.error_message, f.payload, f.failed_at
  FROM skeldir.worker_failed_jobs AS f
 WHERE f.tenant_id = skeldir.current_tenant_id();
COMMENT ON VIEW api.failed_jobs IS 'Failed jobs of the current tenant.';

GRANT SELECT ON api.realtime_revenue, api.channel_performance, api.allocation_summary,
                api.reconciliation_status, api.reconciliations, api.failed_jobs TO app_rw, app_ro;

COMMIT;
