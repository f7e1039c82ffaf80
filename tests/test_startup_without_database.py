"""Issue 18 §5: shell and worker start while PostgreSQL is down and check their identity later.

A PostgreSQL cluster of this module's own (its own folder and port) is stopped before each
process starts; neither process is restarted when it comes back.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support_health import Stack, scrape, value

from skeldir.ops import admin
from skeldir.ops.cluster import Cluster
from support import (
    dumps,
    free_port,
    own_cluster,
    skeldir_process,
    stop_process,
    stripe_event,
    stripe_signature,
    wait_for,
    wait_http,
)


@pytest.fixture(scope="module")
def private_cluster(cluster: Cluster) -> Iterator[Cluster]:
    with own_cluster(cluster, "startup") as c:
        yield c


def status(url: str) -> int:
    return httpx.get(url, timeout=10.0).status_code


def test_shell_and_worker_start_while_the_database_is_down_and_become_ready_when_it_is_up(
    private_cluster: Cluster, tmp_path: Path
) -> None:
    tenant = admin.tenant_create(private_cluster.dsn("migration_owner"), "Early Store", "http://unused")
    private_cluster.stop("immediate")
    stack = Stack(private_cluster.dsn("app_user"), tmp_path)
    try:
        try:
            stack.start_shell()
            stack.start_worker()
        except TimeoutError:
            logs = [p.read_text()[-2000:] for p in tmp_path.glob("*.log")]
            pytest.fail(f"a process did not start while the database was down: {logs}")
        assert stack.shell is not None and stack.worker is not None
        url = stack.shell_url
        assert status(f"{url}/health/live") == 200
        ready = httpx.get(f"{url}/health/ready", timeout=10.0)
        assert ready.status_code == 503 and ready.json()["database"] == "error"
        assert status(f"{url}/health/worker") == 503
        endpoint = tenant["endpoints"]["stripe"].replace("http://unused", url)
        body = dumps(stripe_event())
        signature = {"Stripe-Signature": stripe_signature(body, tenant["secrets"]["stripe"])}
        refused = httpx.post(endpoint, content=body, headers=signature, timeout=10.0)
        assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
        assert value(scrape(stack.worker_metrics_url), "skeldir_worker_database_up") == 0
        time.sleep(2.0)  # a few retries pass
        assert stack.shell.poll() is None and stack.worker.poll() is None

        private_cluster.start()
        wait_for(lambda: status(f"{url}/health/ready") == 200, timeout=30)
        wait_for(lambda: status(f"{url}/health/worker") == 200, timeout=30)
        accepted = httpx.post(endpoint, content=body, headers=signature, timeout=10.0)
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", "the refused one was not stored"
        assert value(scrape(stack.worker_metrics_url), "skeldir_worker_database_up") == 1
    finally:
        stack.stop()
    shell_log = stack.shell_log.read_text()
    assert shell_log.count("database unreachable") == 1, shell_log
    assert "runtime identity checked on the first connection: app_user" in shell_log
    worker_log = stack.worker_log().read_text()
    assert worker_log.count("database unreachable") == 1, worker_log
    assert "worker connecting as app_user" in worker_log


def test_privileged_identity_still_exits_2_on_the_first_connection(private_cluster: Cluster, tmp_path: Path) -> None:
    private_cluster.stop("immediate")
    dsn = private_cluster.dsn("migration_owner")
    shell = skeldir_process(["serve", "--port", str(port := free_port())], dsn, tmp_path / "shell.log")
    worker = skeldir_process(["worker", "--metrics-port", "0"], dsn, tmp_path / "worker.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/health/live")
        time.sleep(1.0)
        assert shell.poll() is None and worker.poll() is None, "both wait for the database"
        private_cluster.start()
        assert shell.wait(20) == 2
        assert worker.wait(20) == 2
    except subprocess.TimeoutExpired:
        pytest.fail("a privileged identity did not stop the process")
    finally:
        stop_process(shell)
        stop_process(worker)
    for name in ("shell.log", "worker.log"):
        last = (tmp_path / name).read_text().strip().splitlines()[-1]
        assert "refusing to run as 'migration_owner'" in last and "owns" in last, last
