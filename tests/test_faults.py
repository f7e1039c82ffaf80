"""Failure truth (SPEC §10): worker stopped, database stopped, exporter gone.

Everything runs against a PostgreSQL cluster of this module's own (its own folder and port),
so stopping it never disturbs the session cluster, with a real shell and a real worker.
Neither process is restarted across a database outage: they must recover by themselves.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from support_health import Stack, promtool_check, scrape, series, value

from skeldir.ops import admin
from skeldir.ops.cluster import Cluster
from support import as_tenant, dumps, own_cluster, stripe_event, stripe_signature, wait_for

TIMEOUT = httpx.Timeout(20.0)


@pytest.fixture(scope="module")
def private_cluster(cluster: Cluster) -> Iterator[Cluster]:
    with own_cluster(cluster, "faults") as c:
        yield c


@pytest.fixture(scope="module")
def stack(private_cluster: Cluster) -> Iterator[Stack]:
    logs = private_cluster.home / "logs"
    logs.mkdir(exist_ok=True)
    s = Stack(private_cluster.dsn("app_user"), logs)
    s.start_shell()
    s.start_worker()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tenant(private_cluster: Cluster, stack: Stack) -> dict:
    return admin.tenant_create(private_cluster.dsn("migration_owner"), "Fault Store", stack.shell_url)


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT)


def signed_delivery(tenant: dict) -> tuple[str, bytes, dict[str, str]]:
    body = dumps(stripe_event())
    headers = {"Stripe-Signature": stripe_signature(body, tenant["secrets"]["stripe"])}
    return tenant["endpoints"]["stripe"], body, headers


def post(delivery: tuple[str, bytes, dict[str, str]]) -> httpx.Response:
    url, body, headers = delivery
    return httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)


def log_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_cleanly_stopped_worker_leaves_no_heartbeat_and_health_worker_says_so(stack: Stack) -> None:
    wait_for(lambda: get(f"{stack.shell_url}/health/worker").status_code == 200, timeout=30)
    stack.stop_worker()
    response = get(f"{stack.shell_url}/health/worker")
    assert response.status_code == 503
    assert response.json()["workers"] == 0
    assert response.json()["reason"] == "no fresh worker heartbeat"
    stack.start_worker()
    wait_for(lambda: get(f"{stack.shell_url}/health/worker").status_code == 200, timeout=30)


def test_killed_worker_turns_health_worker_503_while_live_and_ready_stay_200(stack: Stack) -> None:
    wait_for(lambda: get(f"{stack.shell_url}/health/worker").status_code == 200, timeout=30)
    assert stack.worker is not None
    os.kill(stack.worker.pid, signal.SIGKILL)  # no clean exit: its heartbeat row stays fresh
    stack.worker.wait()
    stack.worker = None

    # The request itself is bounded by TIMEOUT; the probe, not the (still fresh) heartbeat, tells.
    response = get(f"{stack.shell_url}/health/worker")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["worker"] == "error"
    assert body["workers"] == 1
    assert body["reason"] == "probe not answered within 2 s"
    assert get(f"{stack.shell_url}/health/live").status_code == 200
    assert get(f"{stack.shell_url}/health/ready").json() == {
        "status": "ok",
        "database": "ok",
        "rls": "ok",
        "tenant_guc": "ok",
    }

    stack.start_worker()
    wait_for(lambda: get(f"{stack.shell_url}/health/worker").status_code == 200, timeout=30)


def test_unreachable_exporter_leaves_the_shell_metrics_untouched(stack: Stack) -> None:
    exporter = stack.worker_metrics_url
    assert scrape(exporter)  # the exporter is up before
    before = scrape(f"{stack.shell_url}/metrics")
    stack.stop_worker()
    with pytest.raises(httpx.ConnectError):
        httpx.get(exporter, timeout=5.0)

    after = scrape(f"{stack.shell_url}/metrics")
    assert series(before) <= series(after)
    assert not any(name.startswith("skeldir_worker_") for name, _ in series(after)), "no task metrics on the shell"
    check = promtool_check(f"{stack.shell_url}/metrics")
    assert check.returncode == 0, check.stdout + check.stderr
    stack.start_worker()


def test_database_stop_is_told_truthfully_and_both_processes_recover_without_restart(
    private_cluster: Cluster, stack: Stack, tenant: dict
) -> None:
    shell_url, metrics_url = stack.shell_url, f"{stack.shell_url}/metrics"
    assert stack.shell is not None and stack.worker is not None
    shell_pid, worker_pid, worker_log = stack.shell.pid, stack.worker.pid, stack.worker_log()
    wait_for(lambda: get(f"{shell_url}/health/worker").status_code == 200, timeout=30)

    # Known broker state: three messages on the llm queue, delayed for an hour so that the
    # worker's llm consumer cannot take them during the test.
    with psycopg.connect(private_cluster.dsn("migration_owner"), autocommit=True) as conn:
        conn.execute("SELECT pgmq.purge_queue('llm')")
        conn.execute("SELECT pgmq.send('llm', '{\"task\": \"route\"}', 3600) FROM generate_series(1, 3)")
    first = post(signed_delivery(tenant))
    assert first.json()["status"] == "accepted"
    wait_for(lambda: value(scrape(metrics_url), "skeldir_queue_depth", queue="llm") == 3, timeout=20)

    private_cluster.stop("immediate")
    try:
        ready = get(f"{shell_url}/health/ready")
        assert ready.status_code == 503
        assert ready.json()["database"] == "error"
        worker_health = get(f"{shell_url}/health/worker")
        assert worker_health.status_code == 503
        assert worker_health.json()["database"] == "error"
        assert get(f"{shell_url}/health/live").status_code == 200

        errors_before = value(scrape(metrics_url), "skeldir_queue_metrics_refresh_errors_total") or 0
        down = wait_for(
            lambda: (
                (s := scrape(metrics_url))
                and (value(s, "skeldir_queue_metrics_refresh_errors_total") or 0) > errors_before
                and s
            ),
            timeout=20,
        )
        assert value(down, "skeldir_queue_depth", queue="llm") == 3, "last good gauge values are kept"

        deliveries = [signed_delivery(tenant) for _ in range(3)]
        for delivery in deliveries:
            response = post(delivery)
            assert response.status_code == 503
            assert response.headers["Retry-After"].isdigit()
            assert response.json() == {"status": "unavailable", "reason": "database unavailable"}
    finally:
        private_cluster.start()

    wait_for(lambda: get(f"{shell_url}/health/ready").status_code == 200, timeout=60)
    wait_for(lambda: get(f"{shell_url}/health/worker").status_code == 200, timeout=60)
    # Nothing of the refused deliveries was half-written: each is new now, not a duplicate.
    event_ids = [first.json()["event_id"]]
    for delivery in deliveries:
        response = post(delivery)
        assert response.status_code == 200
        assert response.json()["status"] == "accepted"
        event_ids.append(response.json()["event_id"])
    app_dsn = private_cluster.dsn("app_user")
    assert as_tenant(app_dsn, tenant["tenant_id"], "SELECT count(*) FROM api.events") == [(4,)]
    assert as_tenant(app_dsn, tenant["tenant_id"], "SELECT count(*) FROM api.dead_letters") == [(0,)]
    # The same worker process allocates all of them.
    allocated = "SELECT count(DISTINCT event_id) FROM api.allocations WHERE event_id = ANY(%s)"
    wait_for(lambda: as_tenant(app_dsn, tenant["tenant_id"], allocated, [event_ids]) == [(4,)], timeout=30)
    refreshes = value(down, "skeldir_queue_metrics_refreshes_total") or 0
    wait_for(lambda: (value(scrape(metrics_url), "skeldir_queue_metrics_refreshes_total") or 0) > refreshes, timeout=20)

    assert stack.shell.pid == shell_pid and stack.shell.poll() is None, "the shell was not restarted"
    assert stack.worker.pid == worker_pid and stack.worker.poll() is None, "the worker was not restarted"
    messages = [line["msg"] for line in log_lines(worker_log)]
    assert sum(m.startswith("database unreachable") for m in messages) == 1, messages
    assert sum(m.startswith("database reachable again") for m in messages) == 1, messages
    assert value(scrape(stack.worker_metrics_url), "skeldir_worker_database_up") == 1
