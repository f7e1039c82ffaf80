"""Issue 7: the harness through PgBouncer (transaction mode), and its cross-tenant probe's teeth."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from test_loadtest_smoke import loadtest

from skeldir.ops import admin, pgbouncer
from skeldir.ops.cluster import Cluster
from support import Database, dumps, free_port, stop_process, stripe_event, stripe_signature, wait_http


@pytest.fixture(scope="module")
def bouncer(cluster: Cluster) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the test cluster, two server connections only."""
    config = pgbouncer.write_config(cluster, free_port(), pool_size=2)
    proc = pgbouncer.start(config)
    yield config.dsn("app_user", cluster.passwords()["app_user"])
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def bounced_shell(bouncer: str, cluster: Cluster) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SKELDIR_DATABASE_URL": bouncer, "SKELDIR_PREPARED_STATEMENTS": "off"}
    log = (cluster.home / "shell-pgbouncer.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "skeldir.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health/live")
    yield url
    stop_process(proc)


def test_load_through_pgbouncer_is_fully_accounted_and_no_tenant_guc_leaks(
    bounced_shell: str, bouncer: str, main_db: Database, tmp_path: Path
) -> None:
    via_bouncer = Database(main_db.name, main_db.admin, main_db.migration, bouncer)
    proc, result = loadtest(via_bouncer, bounced_shell, tmp_path / "b.json", "--rate", "40", "--duration", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["sent"] == result["received"] == 120
    assert result["guc_probe"]["checks"] > 0 and result["guc_probe"]["leaks"] == 0


def test_a_session_level_tenant_guc_on_a_pooled_connection_is_caught_by_the_probe(
    bounced_shell: str, bouncer: str, main_db: Database, tmp_path: Path
) -> None:
    """Negative control: a rogue client sets the GUC for the whole session (never done by Skeldir)."""
    victim = admin.tenant_create(main_db.migration, "Victim", bounced_shell)
    body = dumps(stripe_event())
    sent = httpx.post(
        victim["endpoints"]["stripe"],
        content=body,
        headers={"Stripe-Signature": stripe_signature(body, victim["secrets"]["stripe"])},
    )
    assert sent.json()["status"] == "accepted"

    stop = threading.Event()

    def rogue() -> None:
        with psycopg.connect(bouncer, autocommit=True, prepare_threshold=None) as conn:
            while not stop.wait(0.01):
                conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", [victim["tenant_id"]])

    thread = threading.Thread(target=rogue, daemon=True)
    thread.start()
    try:
        via_bouncer = Database(main_db.name, main_db.admin, main_db.migration, bouncer)
        proc, result = loadtest(via_bouncer, bounced_shell, tmp_path / "r.json", "--rate", "40", "--duration", "3")
    finally:
        stop.set()
        thread.join()
    assert proc.returncode == 1
    assert result["guc_probe"]["leaks"] > 0
    assert any(f.startswith("cross-tenant probe") for f in result["failures"]), result["failures"]
