"""Helpers of the pipeline tests: seed events and tasks as migration_owner, read metrics."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import psycopg

from support import WorkerProcess, free_port, skeldir_process, wait_http


def seed_events(migration_dsn: str, tenant_id: str, count: int, amount: int = 1000) -> None:
    """Inserts `count` payment events for a tenant (FORCEd RLS: under its GUC)."""
    with psycopg.connect(migration_dsn) as conn:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [tenant_id])
        conn.execute(
            """INSERT INTO skeldir.attribution_events
                      (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, payment_ref, amount_minor, currency,
                       occurred_at, utm_source, utm_medium, payload, route)
               SELECT %s, 'stripe', 'payment_intent.succeeded', 'payment', 'evt_seed_' || g,
                      'payment:pi_seed_' || g, 'pi_seed_' || g,
                      %s + g %% 7, 'USD', now(), 'google', 'cpc', '{}', 'seed'
                 FROM generate_series(1, %s) AS g""",
            [tenant_id, amount, count],
        )


def enqueue_allocations(migration_dsn: str, tenant_id: str) -> int:
    """One `allocate` task per event of the tenant, sent in one pgmq.send_batch."""
    with psycopg.connect(migration_dsn) as conn:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [tenant_id])
        row = conn.execute(
            """SELECT count(*) FROM pgmq.send_batch('attribution', ARRAY(
                   SELECT jsonb_build_object('task', 'allocate', 'tenant_id', tenant_id, 'event_id', id)
                     FROM skeldir.attribution_events ORDER BY id))"""
        ).fetchone()
    assert row is not None
    return int(row[0])


def scalar(dsn: str, query: str, params: list | None = None) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params or []).fetchone()
    assert row is not None
    return row[0]


def start_worker(app_dsn: str, log: Path, *args: str) -> WorkerProcess:
    port = free_port()
    proc = skeldir_process(["worker", "--metrics-port", str(port), *args], app_dsn, log)
    url = f"http://127.0.0.1:{port}/metrics"
    wait_http(url)
    return WorkerProcess(proc, url)


def tasks_counted(metrics_url: str, task: str, outcome: str) -> float:
    """Sum of skeldir_worker_tasks_total over queues for one task and outcome (label order free)."""
    total = 0.0
    for labels, value in re.findall(
        r"^skeldir_worker_tasks_total\{([^}]*)\} (\S+)$", httpx.get(metrics_url, timeout=5).text, re.M
    ):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if pairs.get("task") == task and pairs.get("outcome") == outcome:
            total += float(value)
    return total
