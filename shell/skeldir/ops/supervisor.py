"""``skeldir up`` / ``skeldir down``: database, shell and worker as one foreground unit.

``skeldir up`` prints one progress line per step (packages, initdb, postgres, bootstrap,
sqitch deploy, demo tenant, shell, worker) with its duration. While it runs, the URL the
shell is reachable at (from ``--host``/``--port``, or ``SKELDIR_PUBLIC_URL``) is kept in the
cluster folder, so ``skeldir tenant create`` in another terminal prints endpoints that work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from skeldir.config import env
from skeldir.ops import admin
from skeldir.ops.cluster import Cluster, print_progress


def pid_file(cluster: Cluster) -> Path:
    return cluster.home / "processes.json"


def public_url_file(cluster: Cluster) -> Path:
    return cluster.home / "public-url"


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches a shell listening on host:port at (a wildcard host: loopback)."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def derived_public_url(host: str, port: int) -> str:
    """SKELDIR_PUBLIC_URL, else the local URL of the shell's --host/--port."""
    given = env("SKELDIR_PUBLIC_URL")
    return given.rstrip("/") if given else local_url(host, port)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_public_url(cluster: Cluster) -> str | None:
    """The public URL of this cluster's running ``skeldir up``, if its shell is alive."""
    path, pids = public_url_file(cluster), pid_file(cluster)
    if not (path.exists() and pids.exists()):
        return None
    shell = json.loads(pids.read_text()).get("shell")
    return path.read_text().strip() if isinstance(shell, int) and _alive(shell) else None


def rebased(tenant: dict, public_url: str) -> dict:
    """The tenant with its endpoint URLs on ``public_url`` (the tokens stay)."""
    endpoints = {v: f"{public_url}/webhooks/{url.split('/webhooks/', 1)[1]}" for v, url in tenant["endpoints"].items()}
    return {**tenant, "endpoints": endpoints}


def demo_tenant(cluster: Cluster, public_url: str) -> dict:
    """The demo tenant, created once and kept (0600) in the cluster folder; endpoints on ``public_url``."""
    path = cluster.home / "demo-tenant.json"
    if path.exists():
        return rebased(json.loads(path.read_text()), public_url)
    tenant = admin.tenant_create(cluster.dsn("migration_owner"), "Demo Store", public_url)
    path.touch(mode=0o600)
    path.write_text(json.dumps(tenant, indent=2))
    return tenant


def wait_http_ok(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Polls ``url`` until it answers 200; False when ``proc`` exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


def stripe_curl(tenant: dict) -> str:
    """A ready-to-paste curl carrying a valid Stripe-Signature (valid for 300 s)."""
    now = int(time.time())
    event = {
        "id": f"evt_demo_{secrets.token_hex(8)}",
        "type": "payment_intent.succeeded",
        "created": now,
        "data": {
            "object": {
                "id": f"pi_demo_{secrets.token_hex(6)}",
                "amount": 4999,
                "amount_received": 4999,
                "currency": "usd",
                "receipt_email": "buyer@example.com",
                "metadata": {
                    "order_id": "1001",
                    "utm_source": "google",
                    "utm_medium": "cpc",
                    "utm_campaign": "winter-sale",
                },
            }
        },
    }
    body = json.dumps(event, separators=(",", ":"))
    secret = tenant["secrets"]["stripe"]
    digest = hmac.new(secret.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
    return (
        f"curl -sS -X POST {shlex.quote(tenant['endpoints']['stripe'])} \\\n"
        f"  -H 'Content-Type: application/json' \\\n"
        f"  -H {shlex.quote(f'Stripe-Signature: t={now},v1={digest}')} \\\n"
        f"  --data-raw {shlex.quote(body)}"
    )


def up(cluster: Cluster, host: str, port: int, metrics_port: int = 9108, ready_timeout: float = 60.0) -> int:
    cluster.up(print_progress)
    public_url = derived_public_url(host, port)
    clock = time.monotonic()
    existed = (cluster.home / "demo-tenant.json").exists()
    tenant = demo_tenant(cluster, public_url)
    print_progress("demo tenant", time.monotonic() - clock, "kept from the last run" if existed else "created")
    child_env = {**os.environ, "SKELDIR_DATABASE_URL": cluster.dsn("app_user"), "SKELDIR_PUBLIC_URL": public_url}
    cli = [sys.executable, "-m", "skeldir.cli"]
    clock = time.monotonic()
    shell = subprocess.Popen([*cli, "serve", "--host", host, "--port", str(port)], env=child_env)
    worker = subprocess.Popen([*cli, "worker", "--metrics-port", str(metrics_port)], env=child_env)
    pid_file(cluster).write_text(json.dumps({"shell": shell.pid, "worker": worker.pid}))
    public_url_file(cluster).write_text(f"{public_url}\n")
    local = local_url(host, port)
    ok = wait_http_ok(f"{local}/health/live", shell, ready_timeout)
    print_progress("shell", time.monotonic() - clock, f"ready on {local}" if ok else "not answering yet")
    ok = ok and wait_http_ok(f"{local}/health/worker", worker, ready_timeout)
    detail = "ready (heartbeat and queue round trip)" if ok else "not ready yet"
    print_progress("worker", time.monotonic() - clock, detail)
    metrics = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else "off"
    print(f"\nSkeldir is up: shell {public_url}, worker metrics {metrics}")
    print(f"demo tenant {tenant['tenant_id']} (API key and secrets in {cluster.home}/demo-tenant.json)")
    print("send a signed Stripe webhook (fresh signature: skeldir demo curl):\n")
    print(stripe_curl(tenant))
    print("\nCtrl-C stops shell, worker and database.\n", flush=True)

    stop = {"signal": False}

    def on_signal(signum, frame):  # noqa: ARG001
        stop["signal"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    status = 0
    while not stop["signal"]:
        for name, proc in (("shell", shell), ("worker", worker)):
            if proc.poll() is not None:
                print(f"skeldir: {name} exited with status {proc.returncode}", file=sys.stderr)
                stop["signal"] = True
                status = 1
        time.sleep(0.2)
    for proc in (shell, worker):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in (shell, worker):
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    pid_file(cluster).unlink(missing_ok=True)
    public_url_file(cluster).unlink(missing_ok=True)
    cluster.stop()
    print("stopped shell, worker and database")
    return status


def down(cluster: Cluster) -> int:
    path = pid_file(cluster)
    if path.exists():
        for name, pid in json.loads(path.read_text()).items():
            try:
                os.kill(pid, signal.SIGTERM)
                print(f"stopped {name} (pid {pid})")
            except ProcessLookupError:
                pass
        path.unlink()
    public_url_file(cluster).unlink(missing_ok=True)
    print("postgres stopped" if cluster.stop() else "postgres was not running")
    return 0


def demo_curl(cluster: Cluster) -> int:
    path = cluster.home / "demo-tenant.json"
    if not path.exists():
        print("skeldir: no demo tenant yet; run: skeldir up", file=sys.stderr)
        return 1
    tenant = json.loads(path.read_text())
    public_url = env("SKELDIR_PUBLIC_URL") or running_public_url(cluster)
    print(stripe_curl(rebased(tenant, public_url.rstrip("/")) if public_url else tenant))
    return 0
