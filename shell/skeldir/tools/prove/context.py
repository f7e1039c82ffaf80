"""What every gate of ``skeldir prove`` shares: the run's context, its errors, named queries, helpers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from skeldir.config import PROJECT_DIR
from skeldir.db import named_queries
from skeldir.ops import admin
from skeldir.ops.cluster import DATABASE, Cluster

FAULT_ENV = "SKELDIR_PROVE_FAULT"
APP_NAMES = {"shell": "skeldir-prove-shell", "worker": "skeldir-prove-worker"}


class ProveError(Exception):
    """The run could not start or the pack could not be written; one line, exit 2."""


class GateFailed(Exception):
    """The gate ran and the system did not behave; the message says what was expected."""

    def __init__(self, message: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.figures = figures or {}


class NotAvailable(Exception):
    """The gate cannot run in this build (its feature is not there yet); never a pass."""


def query(name: str) -> str:
    return named_queries("prove")[name]


@dataclass
class Context:
    cluster: Cluster
    pack: Path
    quick: bool
    shell_url: str = ""
    worker_metrics_port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    # Values that must never appear in any log (hygiene gate): keys, secrets, signatures, PII.
    sensitive: set[str] = field(default_factory=set)
    tenants: list[dict] = field(default_factory=list)

    def evidence(self, gate: str, name: str) -> Path:
        path = self.pack / "gates" / gate / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def app_dsn(self) -> str:
        return self.cluster.dsn("app_user")

    @property
    def migration_dsn(self) -> str:
        return self.cluster.dsn("migration_owner")

    def tenant(self, name: str) -> dict:
        """A new tenant whose endpoint URLs point at this run's shell; its secrets are sensitive."""
        tenant = admin.tenant_create(self.migration_dsn, name, self.shell_url)
        self.sensitive.add(tenant["api_key"])
        self.sensitive.update(tenant["secrets"].values())
        self.tenants.append(tenant)
        return tenant

    def process_env(self, app_name: str) -> dict[str, str]:
        dsn = f"{self.app_dsn}?application_name={app_name}"
        return {
            **os.environ,
            "SKELDIR_HOME": str(self.cluster.home),
            "SKELDIR_PG_PORT": str(self.cluster.port),
            "SKELDIR_DATABASE_URL": dsn,
            "PYTHONUNBUFFERED": "1",
        }

    def start_process(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.pack / "logs" / f"{name}.log").open("a")
        proc = subprocess.Popen(
            [sys.executable, "-m", "skeldir.cli", *args],
            env=self.process_env(APP_NAMES[name]),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = proc
        return proc

    def start_shell(self, port: int) -> None:
        self.start_process("shell", ["serve", "--host", "127.0.0.1", "--port", str(port)])
        self.shell_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_status(f"{self.shell_url}/health/ready") == 200, 30, "the shell did not become ready")

    def start_worker(self) -> None:
        self.start_process("worker", ["worker", "--metrics-port", str(self.worker_metrics_port)])
        url = f"http://127.0.0.1:{self.worker_metrics_port}/metrics"
        wait_until(lambda: http_status(url) == 200, 30, "the worker exporter did not come up")

    def stop_process(self, name: str) -> int | None:
        proc = self.processes.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, message: str, interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise GateFailed(f"{message} within {timeout:g} s")


def httpx_module():
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - the test extra is the supported install
        raise ProveError("skeldir prove needs httpx; install with: pip install -e '.[test]'") from exc
    return httpx


def http_status(url: str, timeout: float = 10.0) -> int | None:
    """The status of a GET, None when unreachable. Long timeout: /health/worker waits for a probe."""
    try:
        return httpx_module().get(url, timeout=timeout).status_code
    except httpx_module().HTTPError:
        return None


def as_tenant(dsn: str, tenant_id: str, name: str, params: dict | None = None) -> list[dict]:
    """One named query as the DSN's role, in one transaction scoped to the tenant."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant_id])
        return conn.execute(query(name), params or {}).fetchall()


def admin_rows(cluster: Cluster, name: str, params: dict | None = None, database: str = DATABASE) -> list[dict]:
    with psycopg.connect(cluster.admin_dsn(database), row_factory=dict_row, autocommit=True) as conn:
        cur = conn.execute(query(name), params or {})
        return cur.fetchall() if cur.description else []


def write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    import csv

    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)


def schema_dump(cluster: Cluster, database: str) -> str:
    """pg_dump --schema-only without comments, owners, privileges, blank runs or the sqitch registry."""
    dump = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--exclude-schema=sqitch",
         cluster.admin_dsn(database)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # \\restrict lines carry a random key per dump (pg_dump security fix); not schema.
    lines = [line for line in dump.splitlines() if line and not line.startswith(("--", "\\restrict", "\\unrestrict"))]
    return re.sub(r"\n{2,}", "\n", "\n".join(lines))


def plan_changes() -> list[str]:
    """The change names of sqitch.plan, in order."""
    lines = (PROJECT_DIR / "sqitch.plan").read_text().splitlines()
    return [line.split()[0] for line in lines if line and line[0] not in "%#@"]


def recreate_database(cluster: Cluster, database: str, template: str | None = None) -> None:
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if template:
            conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')


def drop_database(cluster: Cluster, database: str) -> None:
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
