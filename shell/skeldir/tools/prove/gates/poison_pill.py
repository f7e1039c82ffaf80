"""Gate poison_pill: a task that always fails ends in worker_failed_jobs after its retries."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from skeldir.tools.prove.context import Context, GateFailed, as_tenant, httpx_module, query, wait_until, write_json


def worker_metric(ctx: Context, name: str, labels: dict[str, str]) -> float:
    """One sample of the worker exporter (0 when absent)."""
    text = httpx_module().get(f"http://127.0.0.1:{ctx.worker_metrics_port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def gate_poison_pill(ctx: Context) -> dict[str, Any]:
    """A task that always fails is retried with backoff, then moved atomically to
    worker_failed_jobs under its tenant (retry_count 3), leaves its queue, and is counted."""
    tenant = ctx.tenant("Prove poison pill")
    labels = {"queue": "attribution", "task": "poison_pill", "outcome": "failed"}
    failed_before = worker_metric(ctx, "skeldir_worker_tasks_total", labels)
    started = time.monotonic()
    with psycopg.connect(ctx.migration_dsn, row_factory=dict_row, autocommit=True) as conn:
        msg_id = conn.execute(query("poison_pill_send"), {"tenant_id": tenant["tenant_id"]}).fetchone()["msg_id"]
    rows = wait_until(
        lambda: as_tenant(ctx.migration_dsn, tenant["tenant_id"], "failed_job", {"msg_id": msg_id}),
        90,
        "the poison pill did not reach worker_failed_jobs",
        interval=0.5,
    )
    assert isinstance(rows, list)
    captured_s = time.monotonic() - started
    with psycopg.connect(ctx.migration_dsn, row_factory=dict_row) as conn:
        queued = conn.execute(query("queued_message"), {"msg_id": msg_id}).fetchone()["queued"]
    others = as_tenant(ctx.migration_dsn, ctx.tenants[0]["tenant_id"], "failed_job", {"msg_id": msg_id})
    failed_after = worker_metric(ctx, "skeldir_worker_tasks_total", labels)
    observed = {"msg_id": msg_id, "failed_job": rows, "still_queued": queued, "seen_by_another_tenant": others}
    observed["metric_failed_delta"] = failed_after - failed_before
    write_json(ctx.evidence("poison_pill", "observed.json"), observed)
    checks = {
        "captured once with retry_count 3": len(rows) == 1 and rows[0]["retry_count"] == 3,
        "status failed, task poison_pill": rows[0]["status"] == "failed" and rows[0]["task_name"] == "poison_pill",
        "removed from its queue": queued == 0,
        "invisible to another tenant": others == [],
        "worker exporter counted it": failed_after - failed_before == 1,
    }
    figures = {"captured_after_s": round(captured_s, 2), "checks": checks}
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise GateFailed(f"poison pill path broke: {', '.join(failed)}", figures)
    return figures
