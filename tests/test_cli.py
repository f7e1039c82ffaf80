"""The fixed CLI contract of SPEC §9, run as real processes against a real embedded cluster.

One embedded cluster for the module, in its own SKELDIR_HOME (under /tmp, reachable by the
``postgres`` system user when the tests run as root) on its own port; ``skeldir up`` reuses it
and, on Ctrl-C, stops it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from support import free_port, wait_for, wait_http

VENDORS = {"stripe", "shopify", "woocommerce", "paypal", "standard"}
SHARED_SECRET_VENDORS = {"stripe", "shopify", "woocommerce", "standard"}


@dataclass
class Embedded:
    home: Path
    port: int
    first_up: str = ""  # what the module's first `skeldir db up` printed

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL") and k != "SKELDIR_PUBLIC_URL"}
        env.update({"SKELDIR_HOME": str(self.home), "SKELDIR_PG_PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        env.update(extra)
        return env

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "skeldir.cli", *args],
            env=self.env(), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    @property
    def admin_dsn(self) -> str:
        return f"host={self.home / 'run'} port={self.port} user=postgres dbname=skeldir"


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def schema_and_privileges(embedded: Embedded) -> str:
    """Schema and grants of the skeldir database, without pg_dump's random per-dump key lines."""
    dump = subprocess.run(
        ["pg_dump", "--schema-only", "-d", embedded.admin_dsn], capture_output=True, text=True, check=True
    ).stdout
    return "\n".join(line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def server_state(embedded: Embedded) -> tuple:
    with psycopg.connect(embedded.admin_dsn) as conn:
        return conn.execute(
            "SELECT pg_postmaster_start_time(), (SELECT count(*) FROM sqitch.changes),"
            " (SELECT array_agg((rolname, rolsuper, rolbypassrls, rolcanlogin) ORDER BY rolname) FROM pg_roles"
            "   WHERE rolname !~ '^pg_')::text"
        ).fetchone()


@pytest.fixture(scope="module")
def embedded() -> Iterator[Embedded]:
    home = Path(tempfile.mkdtemp(prefix="skeldir-cli-"))
    home.chmod(0o755)
    e = Embedded(home, free_port())
    first = e.cli("db", "up")
    assert first.returncode == 0, first.stderr
    e.first_up = first.stdout
    yield e
    e.cli("db", "down")
    shutil.rmtree(home, ignore_errors=True)


PROGRESS = re.compile(r"^skeldir: (\S+(?: \S+)?) +(\d+\.\d) s  (.+)$", re.M)


def progress_steps(output: str) -> dict[str, str]:
    """step -> detail of every progress line (one per step, each with its duration)."""
    steps = [m.group(1) for m in PROGRESS.finditer(output)]
    assert len(steps) == len(set(steps)), output
    return {m.group(1): m.group(3) for m in PROGRESS.finditer(output)}


def test_db_up_prints_one_line_with_its_duration_per_step(embedded: Embedded) -> None:
    steps = progress_steps(embedded.first_up)
    assert list(steps) == ["initdb", "postgres", "bootstrap", "sqitch deploy"], embedded.first_up
    assert steps["initdb"] == f"new cluster in {embedded.home / 'pgdata'}"
    assert re.fullmatch(r"\d+ changes deployed as migration_owner", steps["sqitch deploy"])

    again = progress_steps(embedded.cli("db", "up").stdout)
    assert list(again) == ["postgres", "bootstrap", "sqitch deploy"]
    assert again["postgres"] == f"already running on 127.0.0.1:{embedded.port}"
    assert again["sqitch deploy"] == "schema up to date"


def test_up_help_says_what_host_and_port_do() -> None:
    result = subprocess.run([sys.executable, "-m", "skeldir.cli", "up", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "--host HOST address the shell listens on (default 127.0.0.1; 0.0.0.0: all)" in text
    assert "--port PORT port the shell listens on (default 8000)" in text
    assert "unless SKELDIR_PUBLIC_URL is set" in text


def test_db_up_twice_is_harmless_and_changes_nothing(embedded: Embedded) -> None:
    passwords = (embedded.home / "passwords.json").read_bytes()
    state, schema = server_state(embedded), schema_and_privileges(embedded)

    again = embedded.cli("db", "up")

    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    assert f"127.0.0.1:{embedded.port}" in again.stdout
    assert server_state(embedded) == state  # same postmaster (not restarted), same changes, same roles
    assert schema_and_privileges(embedded) == schema
    assert (embedded.home / "passwords.json").read_bytes() == passwords


def test_db_up_takes_back_what_was_granted_to_app_user_by_hand(embedded: Embedded) -> None:
    with psycopg.connect(embedded.admin_dsn, autocommit=True) as conn:
        conn.execute("GRANT migration_owner, app_ro TO app_user")
        conn.execute("ALTER ROLE app_user BYPASSRLS")

    assert embedded.cli("db", "up").returncode == 0

    with psycopg.connect(embedded.admin_dsn) as conn:
        roles = conn.execute(
            "SELECT roleid::regrole::text FROM pg_auth_members WHERE member = 'app_user'::regrole"
        ).fetchall()
        bypass = conn.execute("SELECT rolbypassrls FROM pg_roles WHERE rolname = 'app_user'").fetchone()
    assert roles == [("app_rw",)]
    assert bypass == (False,)


def test_db_env_prints_exactly_three_exportable_urls(embedded: Embedded) -> None:
    result = embedded.cli("db", "env")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    names = [line.split("=", 1)[0] for line in lines]
    assert names == ["SKELDIR_DATABASE_URL", "SKELDIR_MIGRATION_DATABASE_URL", "SKELDIR_ADMIN_DATABASE_URL"]
    assert all(re.fullmatch(r"SKELDIR_[A-Z_]+=\S+", line) for line in lines)

    # Shell-exportable: a POSIX shell that evals the output connects as the three roles.
    script = (
        'eval "$(cat)"; export SKELDIR_DATABASE_URL SKELDIR_MIGRATION_DATABASE_URL SKELDIR_ADMIN_DATABASE_URL; '
        'for v in "$SKELDIR_DATABASE_URL" "$SKELDIR_MIGRATION_DATABASE_URL" "$SKELDIR_ADMIN_DATABASE_URL"; do '
        'psql -X -At -c "SELECT current_user" "$v"; done'
    )
    users = subprocess.run(["sh", "-c", script], input=result.stdout, capture_output=True, text=True, timeout=60)
    assert users.returncode == 0, users.stderr
    assert users.stdout.split() == ["app_user", "migration_owner", "postgres"]


def test_db_env_without_a_running_cluster_fails_with_one_line(tmp_path: Path) -> None:
    nowhere = Embedded(tmp_path / "never-initialized", free_port())
    result = nowhere.cli("db", "env")
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "skeldir db up" in result.stderr


def test_tenant_create_json_prints_one_object_with_keys_endpoints_and_secrets(embedded: Embedded) -> None:
    result = embedded.cli("tenant", "create", "Acme Store", "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    tenant = json.loads(result.stdout)
    assert {"tenant_id", "api_key", "endpoints", "secrets"} <= tenant.keys()
    assert re.fullmatch(r"[0-9a-f-]{36}", tenant["tenant_id"])
    assert tenant["api_key"].startswith("skd_")
    assert set(tenant["endpoints"]) == VENDORS
    for vendor, url in tenant["endpoints"].items():
        assert re.fullmatch(rf"http://127\.0\.0\.1:8000/webhooks/{vendor}/ep_[A-Za-z0-9]{{16,64}}", url), url
    assert SHARED_SECRET_VENDORS <= set(tenant["secrets"])
    assert all(isinstance(tenant["secrets"][v], str) and tenant["secrets"][v] for v in SHARED_SECRET_VENDORS)
    assert tenant["secrets"]["stripe"].startswith("whsec_")

    second = json.loads(embedded.cli("tenant", "create", "Acme Store", "--json").stdout)
    assert second["tenant_id"] != tenant["tenant_id"] and second["api_key"] != tenant["api_key"]


@pytest.mark.parametrize("name", ["", "   "])
def test_tenant_create_with_an_empty_name_is_exit_1_and_one_line(embedded: Embedded, name: str) -> None:
    result = embedded.cli("tenant", "create", name, "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skeldir: tenant name must not be empty")


def read_curl(log: Path, timeout: float = 120) -> str:
    """The ready-to-paste curl that `skeldir up` prints: from 'curl ' to the first blank line."""

    def find() -> str | None:
        text = log.read_text() if log.exists() else ""
        match = re.search(r"^curl .*?(?=\n\s*\n)", text, re.S | re.M)
        return match.group(0) if match else None

    return str(wait_for(find, timeout=timeout, interval=0.2))


def test_up_prints_a_working_signed_curl_and_ctrl_c_stops_shell_worker_and_database(
    embedded: Embedded, tmp_path: Path
) -> None:
    http_port, metrics_port = free_port(), free_port()
    log = tmp_path / "up.log"
    with log.open("w") as out:
        # Its own session, so that SIGINT to the group is exactly a terminal's Ctrl-C.
        up = subprocess.Popen(
            [sys.executable, "-m", "skeldir.cli", "up", "--port", str(http_port), "--metrics-port", str(metrics_port)],
            env=embedded.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        curl = read_curl(log)
        wait_http(f"http://127.0.0.1:{http_port}/health/ready", timeout=60)
        pids = json.loads((embedded.home / "processes.json").read_text())
        steps = progress_steps(log.read_text())
        assert list(steps)[-3:] == ["demo tenant", "shell", "worker"], log.read_text()
        assert steps["shell"] == f"ready on http://127.0.0.1:{http_port}"
        assert steps["worker"] == "ready (heartbeat and queue round trip)"

        # While up runs, a tenant created elsewhere gets endpoints on up's port, without SKELDIR_PUBLIC_URL.
        created = json.loads(embedded.cli("tenant", "create", "Elsewhere", "--json").stdout)
        assert created["endpoints"]["stripe"].startswith(f"http://127.0.0.1:{http_port}/webhooks/stripe/ep_")
        assert f":{http_port}/webhooks/stripe/ep_" in embedded.cli("demo", "curl").stdout

        sent = subprocess.run(["sh", "-c", curl], capture_output=True, text=True, timeout=30)
        assert sent.returncode == 0, sent.stderr + log.read_text()[-3000:]
        assert json.loads(sent.stdout)["status"] == "accepted", sent.stdout
        assert f":{http_port}/webhooks/stripe/ep_" in curl
        # The worker binds its exporter after its own identity check, possibly after the shell is ready.
        wait_http(f"http://127.0.0.1:{metrics_port}/metrics", timeout=60)
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").status_code == 200

        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(timeout=90) == 0, log.read_text()[-3000:]
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)

    assert not port_open(http_port), "the shell still listens"
    assert not port_open(metrics_port), "the worker exporter still listens"
    assert not port_open(embedded.port), "postgres still listens"
    assert [name for name, pid in pids.items() if alive(pid)] == [], "shell or worker survived"
    status = subprocess.run(
        ["runuser", "-u", "postgres", "--"] * (os.geteuid() == 0)
        + ["/usr/lib/postgresql/15/bin/pg_ctl", "status", "-D", str(embedded.home / "pgdata")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert status.returncode == 3, status.stdout  # 3: no server running
    assert not (embedded.home / "processes.json").exists()
    assert "stopped shell, worker and database" in log.read_text()

    down = embedded.cli("db", "down")
    assert (down.returncode, down.stdout.strip()) == (0, "postgres was not running")
    status = embedded.cli("db", "status")  # exit 3 as pg_ctl status: documented in its --help
    assert (status.returncode, status.stderr) == (3, "")
    assert status.stdout.strip() == f"stopped ({embedded.home / 'pgdata'}); start it with: skeldir db up"
    assert "3 stopped" in embedded.cli("db", "status", "--help").stdout
    env = embedded.cli("db", "env")
    assert env.returncode == 1 and len(env.stderr.strip().splitlines()) == 1, "no fallback DSN once stopped"
