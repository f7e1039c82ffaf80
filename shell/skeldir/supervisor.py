"""``skeldir up`` / ``skeldir down``: database, shell and worker as one foreground unit."""

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
from pathlib import Path

from skeldir import admin
from skeldir.cluster import Cluster


def pid_file(cluster: Cluster) -> Path:
    return cluster.home / "processes.json"


def demo_tenant(cluster: Cluster, public_url: str) -> dict:
    """The demo tenant, created once and kept (0600) in the cluster folder."""
    path = cluster.home / "demo-tenant.json"
    if path.exists():
        return json.loads(path.read_text())
    tenant = admin.tenant_create(cluster.dsn("migration_owner"), "Demo Store", public_url)
    path.touch(mode=0o600)
    path.write_text(json.dumps(tenant, indent=2))
    return tenant


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


def up(cluster: Cluster, host: str, port: int, metrics_port: int = 9108) -> int:
    cluster.up()
    tenant = demo_tenant(cluster, os.environ.get("SKELDIR_PUBLIC_URL") or f"http://{host}:{port}")
    env = {**os.environ, "SKELDIR_DATABASE_URL": cluster.dsn("app_user")}
    cli = [sys.executable, "-m", "skeldir.cli"]
    shell = subprocess.Popen([*cli, "serve", "--host", host, "--port", str(port)], env=env)
    worker = subprocess.Popen([*cli, "worker", "--metrics-port", str(metrics_port)], env=env)
    pid_file(cluster).write_text(json.dumps({"shell": shell.pid, "worker": worker.pid}))
    metrics = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else "off"
    print(f"\nSkeldir is up: shell http://{host}:{port}, worker metrics {metrics}")
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
    print("postgres stopped" if cluster.stop() else "postgres was not running")
    return 0


def demo_curl(cluster: Cluster) -> int:
    path = cluster.home / "demo-tenant.json"
    if not path.exists():
        print("skeldir: no demo tenant yet; run: skeldir up", file=sys.stderr)
        return 1
    print(stripe_curl(json.loads(path.read_text())))
    return 0
