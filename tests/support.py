"""Helpers shared by the tests (importable as `support`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from skeldir.config import Settings
from skeldir.ops.cluster import Cluster, last_line


@dataclass
class Database:
    """DSNs of one database, one per role."""

    name: str
    admin: str
    migration: str
    app: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's documented scheme (the stripe SDK is used in vendor tests as the oracle)."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def stripe_event(event_type: str = "payment_intent.succeeded", **obj: object) -> dict:
    data = {
        "id": f"pi_{uuid.uuid4().hex[:16]}",
        "amount": 2500,
        "amount_received": 2500,
        "currency": "usd",
        "receipt_email": "jane.doe@example.com",
        "metadata": {"order_id": "1001", "utm_source": "google", "utm_medium": "cpc"},
    }
    data.update(obj)
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": data},
    }


def as_tenant(dsn: str, tenant_id: str, query: str, params: list | None = None) -> list[tuple]:
    """Runs one query as the DSN's role inside a transaction scoped to a tenant."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant_id])
        return conn.execute(query, params or []).fetchall()


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def dumps(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def skeldir_process(args: list[str], dsn: str, log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "SKELDIR_DATABASE_URL": dsn, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "skeldir.cli", *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@dataclass
class WorkerProcess:
    proc: subprocess.Popen
    metrics_url: str


@contextmanager
def own_cluster(cluster: Cluster, name: str) -> Iterator[Cluster]:
    """A deployed PostgreSQL cluster of a test module's own (folder `<home>/<name>`, a free
    port), so that stopping it never disturbs the session cluster; stopped at exit."""
    settings = Settings(**{**cluster.settings.__dict__, "home": cluster.home / name, "port": free_port()})
    c = Cluster(settings)
    c.start()
    c.bootstrap()
    result = c.sqitch("deploy")
    assert result.returncode == 0, last_line(result)
    try:
        yield c
    finally:
        c.stop("immediate")
