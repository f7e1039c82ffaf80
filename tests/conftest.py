"""Shared fixtures: one real test cluster per session, real processes, real roles.

The session builds a fresh embedded cluster in ``.skeldir-test`` (port 25439 unless
SKELDIR_TEST_PG_PORT says otherwise), deploys the schema with sqitch as migration_owner
into ``skeldir`` (with pg_cron) and into ``skeldir_template`` (with pgTAP), and clones the
template per test that needs a private database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings

from skeldir.config import PROJECT_DIR, Settings
from skeldir.ops import admin
from skeldir.ops.cluster import DATABASE, TEMPLATE_DATABASE, Cluster, last_line
from support import Database, WorkerProcess, free_port, skeldir_process, stop_process, wait_http

# Property tests and schemathesis explore the same examples on every run, so CI and a developer
# see the same result; a new seed is a deliberate change (HYPOTHESIS_PROFILE=explore).
hypothesis_settings.register_profile("skeldir", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "skeldir"))

TEST_HOME = Path(os.environ.get("SKELDIR_TEST_HOME", PROJECT_DIR / ".skeldir-test"))
TEST_PORT = int(os.environ.get("SKELDIR_TEST_PG_PORT", "25439"))  # below the ephemeral range


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    settings = Settings.from_env()
    settings = Settings(**{**settings.__dict__, "home": TEST_HOME.resolve(), "port": TEST_PORT})
    c = Cluster(settings)
    c.stop("immediate")
    shutil.rmtree(TEST_HOME, ignore_errors=True)
    c.up()
    c.bootstrap(TEMPLATE_DATABASE, cron=False, pgtap=True)
    result = c.sqitch("deploy", database=TEMPLATE_DATABASE)
    assert result.returncode == 0, last_line(result)
    # Fast retries for the tests; production keeps the 1 s default base.
    with psycopg.connect(c.dsn("migration_owner"), autocommit=True) as conn:
        conn.execute("UPDATE skeldir.settings SET task_backoff_base = '50 milliseconds'")
    yield c
    c.stop("fast")


@pytest.fixture
def clone(cluster: Cluster) -> Iterator[Database]:
    """A private database cloned from the deployed template, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DATABASE}')
    yield Database(name, cluster.admin_dsn(name), cluster.dsn("migration_owner", name), cluster.dsn("app_user", name))
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def main_db(cluster: Cluster) -> Database:
    return Database(DATABASE, cluster.admin_dsn(), cluster.dsn("migration_owner"), cluster.dsn("app_user"))


@pytest.fixture
def new_tenant(main_db: Database, shell: str) -> Callable[..., dict]:
    """Creates a tenant in the main database whose endpoint URLs point at the test shell."""

    def make(name: str = "Test Store") -> dict:
        return admin.tenant_create(main_db.migration, name, shell)

    return make


@pytest.fixture(scope="session")
def shell(main_db: Database, cluster: Cluster) -> Iterator[str]:
    """A real `skeldir serve` (uvicorn) connected as app_user; yields its base URL."""
    port = free_port()
    proc = skeldir_process(["serve", "--port", str(port)], main_db.app, cluster.home / "shell.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health/live")
    yield url
    stop_process(proc)


@pytest.fixture(scope="session")
def worker(main_db: Database, cluster: Cluster) -> Iterator[WorkerProcess]:
    """A real `skeldir worker` connected as app_user."""
    port = free_port()
    proc = skeldir_process(["worker", "--metrics-port", str(port)], main_db.app, cluster.home / "worker.log")
    url = f"http://127.0.0.1:{port}/metrics"
    wait_http(url)
    yield WorkerProcess(proc, url)
    stop_process(proc)
