"""Gates failure_database and failure_worker: health and metrics tell the truth and recover."""

from __future__ import annotations

import time
from typing import Any

from skeldir.tools.prove.context import (
    Context,
    GateFailed,
    NotAvailable,
    as_tenant,
    http_status,
    httpx_module,
    wait_until,
    write_json,
)
from skeldir.tools.prove.deliveries import stripe_delivery


def gate_failure_database(ctx: Context) -> dict[str, Any]:
    """Database stopped: live stays 200, ready says 503 database error, webhooks get 503 with
    Retry-After; database back: ready and ingestion recover without restarting shell or worker."""
    httpx = httpx_module()
    c = ctx.cluster
    tenant = ctx.tenant("Prove failure")
    pids = {name: proc.pid for name, proc in ctx.processes.items()}
    observed: dict[str, Any] = {}
    c.stop("immediate")
    stopped_at = time.monotonic()
    try:
        observed["live"] = httpx.get(f"{ctx.shell_url}/health/live", timeout=5).status_code
        ready = httpx.get(f"{ctx.shell_url}/health/ready", timeout=10)
        observed["ready"] = {"status": ready.status_code, "body": ready.json()}
        delivery = stripe_delivery(ctx, tenant)
        ctx.sensitive.update(delivery.sensitive)
        webhook = httpx.post(delivery.url, content=delivery.body, headers=delivery.headers, timeout=15)
        observed["webhook"] = {"status": webhook.status_code, "retry_after": webhook.headers.get("retry-after")}
        metrics = httpx.get(f"{ctx.shell_url}/metrics", timeout=10)
        observed["shell_metrics"] = metrics.status_code
    finally:
        # At least a few seconds down, so the worker's pool meets the outage too.
        time.sleep(max(0.0, 3.0 - (time.monotonic() - stopped_at)))
        c.start()
    down_s = time.monotonic() - stopped_at
    wait_until(lambda: http_status(f"{ctx.shell_url}/health/ready") == 200, 60, "readiness did not recover")
    recovered_s = time.monotonic() - stopped_at
    again = httpx.post(delivery.url, content=delivery.body, headers=delivery.headers, timeout=15).json()
    observed["webhook_after"] = again
    allocated = wait_until(
        lambda: as_tenant(ctx.app_dsn, tenant["tenant_id"], "tenant_allocations", {"event_id": again.get("event_id")}),
        60,
        "the worker did not resume allocating after the database came back",
    )
    observed["allocated_after"] = allocated
    observed["same_processes"] = {n: p.pid for n, p in ctx.processes.items()} == pids and all(
        p.poll() is None for p in ctx.processes.values()
    )
    write_json(ctx.evidence("failure_database", "observed.json"), observed)
    checks = {
        "live 200 while db down": observed["live"] == 200,
        "ready 503 database=error": observed["ready"]["status"] == 503
        and observed["ready"]["body"].get("database") == "error",
        "webhook 503 with Retry-After": observed["webhook"]["status"] == 503
        and bool(observed["webhook"]["retry_after"]),
        "ingestion accepted after recovery": again.get("status") == "accepted",
        "shell and worker not restarted": observed["same_processes"],
    }
    if observed["shell_metrics"] != 404:  # /metrics, when the build has it, must answer while db is down
        checks["shell /metrics 200 while db down"] = observed["shell_metrics"] == 200
    figures = {"down_s": round(down_s, 2), "recovered_after_s": round(recovered_s, 2), "checks": checks}
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise GateFailed(f"failure truth (database) broke: {', '.join(failed)}", figures)
    return figures


def gate_failure_worker(ctx: Context) -> dict[str, Any]:
    """Worker stopped: /health/worker says 503 while webhooks are still accepted; worker back:
    /health/worker 200 and the work queued meanwhile is done (nothing lost)."""
    httpx = httpx_module()
    url = f"{ctx.shell_url}/health/worker"
    if http_status(url) in (404, 405):
        raise NotAvailable("GET /health/worker is not in this build (issue 6)")
    tenant = ctx.tenant("Prove worker failure")
    before = httpx.get(url, timeout=10)
    observed: dict[str, Any] = {"before": {"status": before.status_code, "body": before.json()}}
    ctx.stop_process("worker")
    stopped_at = time.monotonic()
    try:
        wait_until(lambda: http_status(url) == 503, 60, "/health/worker did not report the stopped worker")
        observed["detected_after_s"] = round(time.monotonic() - stopped_at, 2)
        down = httpx.get(url, timeout=10)
        observed["down"] = {"status": down.status_code, "body": down.json()}
        delivery = stripe_delivery(ctx, tenant)
        ctx.sensitive.update(delivery.sensitive)
        queued = httpx.post(delivery.url, content=delivery.body, headers=delivery.headers, timeout=15).json()
        observed["webhook_while_down"] = queued
        # The worker's exporter is gone with it: the shell's own metrics must not care.
        exporter = f"http://127.0.0.1:{ctx.worker_metrics_port}/metrics"
        observed["exporter_reachable"] = http_status(exporter, 2) is not None
        observed["shell_metrics"] = http_status(f"{ctx.shell_url}/metrics")
    finally:
        ctx.start_worker()
    restarted_at = time.monotonic()
    wait_until(lambda: http_status(url) == 200, 60, "/health/worker did not recover")
    observed["recovered_after_restart_s"] = round(time.monotonic() - restarted_at, 2)
    allocated = wait_until(
        lambda: as_tenant(ctx.app_dsn, tenant["tenant_id"], "tenant_allocations", {"event_id": queued.get("event_id")}),
        60,
        "work queued while the worker was down was not done",
    )
    observed["allocated_after_restart"] = allocated
    write_json(ctx.evidence("failure_worker", "observed.json"), observed)
    checks = {
        "200 with a live worker": observed["before"]["status"] == 200,
        "503 with the worker stopped": observed["down"]["status"] == 503,
        "webhook accepted while worker down": queued.get("status") == "accepted",
        "exporter down with the worker": not observed["exporter_reachable"],
    }
    if observed["shell_metrics"] != 404:
        checks["shell /metrics 200 with the exporter gone"] = observed["shell_metrics"] == 200
    figures = {
        "detected_after_s": observed["detected_after_s"],
        "recovered_after_restart_s": observed["recovered_after_restart_s"],
        "checks": checks,
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise GateFailed(f"failure truth (worker) broke: {', '.join(failed)}", figures)
    return figures
