"""GET /health/live, /health/ready, /health/worker (SPEC §8) against real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from support_health import Stack, scrape, value

from support import Database, WorkerProcess, wait_for


@pytest.fixture
def own_shell(clone: Database, tmp_path: Path) -> Iterator[Stack]:
    """A shell of our own on a private database, with no worker until a test starts one."""
    stack = Stack(clone.app, tmp_path)
    stack.start_shell()
    yield stack
    stack.stop()


def test_live_ready_and_worker_are_200_with_a_running_worker(shell: str, worker: WorkerProcess) -> None:
    assert httpx.get(f"{shell}/health/live").json() == {"status": "ok"}
    assert httpx.get(f"{shell}/health/ready").json() == {
        "status": "ok",
        "database": "ok",
        "rls": "ok",
        "tenant_guc": "ok",
    }
    response = httpx.get(f"{shell}/health/worker", timeout=10.0)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "database", "broker", "worker")} == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "worker": "ok",
    }
    assert body["workers"] >= 1
    assert 0 <= body["heartbeat_age_seconds"] <= 15
    assert body["probe_ms"] is not None


def test_worker_health_is_503_when_no_worker_runs(own_shell: Stack) -> None:
    response = httpx.get(f"{own_shell.shell_url}/health/worker", timeout=10.0)
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["broker"], body["worker"]) == ("error", "ok", "ok", "error")
    assert body["workers"] == 0
    assert body["heartbeat_age_seconds"] is None
    assert body["reason"] == "no fresh worker heartbeat"
    assert httpx.get(f"{own_shell.shell_url}/health/ready").status_code == 200


def test_worker_answers_the_probe_through_pgmq(own_shell: Stack, clone: Database) -> None:
    own_shell.start_worker()
    # Until its first heartbeat lands a fresh worker may be reported missing: wait for it.
    wait_for(lambda: httpx.get(f"{own_shell.shell_url}/health/worker", timeout=10.0).status_code == 200, timeout=30)
    with psycopg.connect(clone.migration) as conn:
        archived = conn.execute("SELECT count(*) FROM pgmq.a_probe").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM pgmq.q_probe").fetchone()[0]
    assert archived >= 1, "the worker archived the shell's probes"
    assert pending == 0
    assert value(scrape(own_shell.worker_metrics_url), "skeldir_worker_probes_answered_total") == archived


def test_ready_is_503_when_a_tenant_table_loses_forced_rls(own_shell: Stack, clone: Database) -> None:
    url = f"{own_shell.shell_url}/health/ready"
    assert httpx.get(url).status_code == 200
    with psycopg.connect(clone.migration, autocommit=True) as conn:
        conn.execute("ALTER TABLE skeldir.attribution_events NO FORCE ROW LEVEL SECURITY")
        try:
            response = httpx.get(url)
        finally:
            conn.execute("ALTER TABLE skeldir.attribution_events FORCE ROW LEVEL SECURITY")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "rls": "error", "tenant_guc": "ok"}
    assert httpx.get(url).status_code == 200
