"""The embedded PostgreSQL cluster: install, initdb, start, bootstrap, sqitch.

One folder (``SKELDIR_HOME``) holds the data directory, the socket directory, the server
log and the generated passwords. The server never runs as root: when the CLI is root it
runs every server binary as the ``postgres`` system user (SPEC §9). That user must reach
the data directory, which a clone under ``/root`` or a ``mktemp -d`` folder (mode 700)
forbids; then the server's own files live in a folder of their own under
``/var/lib/skeldir`` (``Cluster.server_dir``) and the home folder keeps the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

from skeldir.config import PROJECT_DIR, Settings

DATABASE = "skeldir"
TEMPLATE_DATABASE = "skeldir_template"

# Where the server's files go when the server user cannot reach the home folder.
SERVER_ROOT = Path("/var/lib/skeldir")

# step, seconds, detail: one progress line per step of ``Cluster.up`` and ``skeldir up``.
Progress = Callable[[str, float, str], None]


def progress_line(step: str, seconds: float, detail: str) -> str:
    """The progress line format, shared with scripts/install."""
    return f"skeldir: {step:<14} {seconds:6.1f} s  {detail}"


def print_progress(step: str, seconds: float, detail: str) -> None:
    print(progress_line(step, seconds, detail), flush=True)


def _quiet(step: str, seconds: float, detail: str) -> None:
    """No progress output (tests, prove)."""


# Debian package -> a file that proves it is installed.
DEBIAN_PACKAGES = {
    "postgresql-15": "/usr/lib/postgresql/15/bin/postgres",
    "postgresql-15-cron": "/usr/lib/postgresql/15/lib/pg_cron.so",
    "postgresql-15-pgtap": "/usr/share/postgresql/15/extension/pgtap.control",
    "sqitch": "/usr/bin/sqitch",
    "libtap-parser-sourcehandler-pgtap-perl": "/usr/bin/pg_prove",
}


class ClusterError(Exception):
    """A failure the operator can act on; the CLI prints it as one line."""


def ensure_packages(extra: dict[str, str] | None = None) -> list[str]:
    """Install the Debian packages the cluster needs, or say exactly how to; returns those installed."""
    wanted = {**DEBIAN_PACKAGES, **(extra or {})}
    missing = [pkg for pkg, probe in wanted.items() if not Path(probe).exists()]
    if not missing:
        return []
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise ClusterError(f"missing Debian packages; run: sudo apt-get update && sudo {' '.join(command)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return missing


def pgmq_sql_path() -> Path:
    """The pgmq.sql shipped by the pinned PyPI ``pgmq`` package."""
    path = Path(str(files("pgmq").joinpath("sql", "pgmq.sql")))
    if not path.is_file():
        raise ClusterError(f"pgmq SQL not found at {path}; reinstall with: pip install -e .")
    return path


@dataclass
class Cluster:
    settings: Settings

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def _server_dir_pointer(self) -> Path:
        return self.home / "server-dir"

    @property
    def server_dir(self) -> Path:
        """Where the server's own files live (data, socket, log, PgBouncer's folder).

        The home folder, unless ``init`` found that the server user cannot reach it and
        recorded another folder under ``SERVER_ROOT`` in ``home/server-dir``.
        """
        if self._server_dir_pointer.exists():
            return Path(self._server_dir_pointer.read_text().strip())
        return self.home

    @property
    def data(self) -> Path:
        return self.server_dir / "pgdata"

    @property
    def run_dir(self) -> Path:
        return self.server_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.server_dir / "log" / "postgres.log"

    @property
    def password_file(self) -> Path:
        return self.home / "passwords.json"

    @property
    def port(self) -> int:
        return self.settings.port

    # -- processes -----------------------------------------------------------------

    def _server_user(self) -> str | None:
        """The OS user that runs the server: postgres when we are root."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterError("running as root but no 'postgres' system user exists") from exc
        return "postgres"

    def _pg(self, tool: str, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        command = [str(self.settings.pg_bin / tool), *args]
        user = self._server_user()
        if user:
            command = ["runuser", "-u", user, "--", *command]
        return subprocess.run(command, check=check, text=True, capture_output=True, **kw)

    def _reachable_by_server(self, path: Path) -> bool:
        """Whether the server user can traverse every folder down to ``path`` (as the kernel decides)."""
        user = self._server_user()
        if not user:
            return True
        probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(path)], capture_output=True)
        return probe.returncode == 0

    def _own_server_dir(self) -> Path:
        """A folder under SERVER_ROOT for this home folder: readable name plus a hash of the full path."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", str(self.home)).strip("-")[-48:]
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:10]
        return SERVER_ROOT / f"{slug}-{digest}"

    def _place_server_dir(self) -> None:
        """Before initdb: keep the server's files in the home folder if the server user can reach it."""
        if self._server_dir_pointer.exists() or self._reachable_by_server(self.home):
            return
        target = self._own_server_dir()
        SERVER_ROOT.mkdir(parents=True, exist_ok=True)
        SERVER_ROOT.chmod(0o755)
        # No pointer named it, so whatever is there is a leftover of a home folder deleted by hand.
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(mode=0o755)
        self._server_dir_pointer.write_text(f"{target}\n")

    def destroy(self) -> None:
        """Stop the server and remove the home folder and, if elsewhere, the server's folder."""
        if self.is_running():
            self.stop("immediate")
        server_dir = self.server_dir
        if server_dir != self.home and server_dir.parent == SERVER_ROOT:
            shutil.rmtree(server_dir, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def _chown_to_server(self, *paths: Path) -> None:
        user = self._server_user()
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(path, user, user)
            path.chmod(0o700)

    def passwords(self) -> dict[str, str]:
        if self.password_file.exists():
            return json.loads(self.password_file.read_text())
        self.home.mkdir(parents=True, exist_ok=True)
        generated = {role: secrets.token_urlsafe(24) for role in ("migration_owner", "app_user")}
        self.password_file.touch(mode=0o600)
        self.password_file.write_text(json.dumps(generated, indent=2))
        return generated

    def is_initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialized():
            return False
        return self._pg("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def init(self) -> None:
        if self.is_initialized():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        self._place_server_dir()
        self._chown_to_server(self.data, self.run_dir, self.log_file.parent)
        result = self._pg(
            "initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
            "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ClusterError(
                f"initdb failed (is {self.data} reachable by the server user?): "
                + (result.stderr.strip().splitlines() or ["no output"])[-1]
            )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'skeldir.conf'\n")
        # Superuser only through the socket, whose folder only the server user can enter.
        (self.data / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )

    def write_config(self) -> None:
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.run_dir}'",
            "unix_socket_permissions": "0700",
            "shared_preload_libraries": "'pg_cron,pg_stat_statements'",
            "cron.database_name": f"'{DATABASE}'",
            "cron.use_background_workers": "on",
            "max_worker_processes": "32",
            "max_connections": "200",
            "password_encryption": "'scram-sha-256'",
            "timezone": "'UTC'",
            "shared_buffers": "256MB",
            # Ingestion tuning (docs/BENCHMARKS.md). Durability is not traded: every commit
            # waits for its WAL flush, so a 2xx means committed; concurrent commits share
            # flushes by themselves, and the shell batches deliveries (group commit).
            "synchronous_commit": "on",
            "fsync": "on",
            "full_page_writes": "on",
            "wal_buffers": "16MB",
            "max_wal_size": "4GB",
            "min_wal_size": "256MB",
            "checkpoint_timeout": "15min",
            "checkpoint_completion_target": "0.9",
            "wal_writer_delay": "10ms",
            "jit": "off",
            "random_page_cost": "1.1",
            "effective_cache_size": "1GB",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %u@%d '",
        }
        path = self.data / "skeldir.conf"
        path.write_text("".join(f"{k} = {v}\n" for k, v in conf.items()))
        user = self._server_user()
        if user:
            shutil.chown(path, user, user)

    def start(self) -> None:
        self.init()
        if self.is_running():
            return
        self.write_config()
        result = self._pg(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.log_file),
            check=False,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text().strip().splitlines()[-1:] if self.log_file.exists() else []
            raise ClusterError(f"postgres did not start: {(tail or [result.stderr.strip()])[-1]}")

    def stop(self, mode: str = "fast") -> bool:
        if not self.is_running():
            return False
        self._pg("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data))
        return True

    # -- DSNs ----------------------------------------------------------------------

    def admin_dsn(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@/{database}?host={quote(str(self.run_dir), safe='')}&port={self.port}"

    def dsn(self, role: str, database: str = DATABASE) -> str:
        password = quote(self.passwords()[role], safe="")
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"

    # -- bootstrap and sqitch ------------------------------------------------------

    def psql_admin(self, *args: str, database: str = "postgres") -> subprocess.CompletedProcess:
        return subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.admin_dsn(database), *args],
            check=True, text=True, capture_output=True,
        )  # fmt: skip

    def bootstrap(self, database: str = DATABASE, *, cron: bool = True, pgtap: bool = False) -> None:
        passwords = self.passwords()
        try:
            self.psql_admin(
                "-v", f"db={database}",
                "-v", f"migration_password={passwords['migration_owner']}",
                "-v", f"app_password={passwords['app_user']}",
                "-v", f"with_cron={'on' if cron else 'off'}",
                "-v", f"with_pgtap={'on' if pgtap else 'off'}",
                "-f", str(PROJECT_DIR / "sql" / "bootstrap.sql"),
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise ClusterError(f"bootstrap failed: {exc.stderr.strip()}") from exc

    def sqitch(self, action: str, *args: str, database: str = DATABASE) -> subprocess.CompletedProcess:
        return run_sqitch(self.dsn("migration_owner", database), action, *args)

    def up(self, progress: Progress = _quiet) -> None:
        """Install what is missing, initdb, start, bootstrap, sqitch deploy: one progress call per step."""
        clock = time.monotonic()
        installed = ensure_packages()
        if installed:
            progress("packages", time.monotonic() - clock, f"installed {' '.join(installed)}")
        if not self.is_initialized():
            clock = time.monotonic()
            self.init()
            progress("initdb", time.monotonic() - clock, f"new cluster in {self.data}")
        clock = time.monotonic()
        was_running = self.is_running()
        self.start()
        state = "already running" if was_running else "started"
        progress("postgres", time.monotonic() - clock, f"{state} on 127.0.0.1:{self.port}")
        clock = time.monotonic()
        self.bootstrap()
        progress("bootstrap", time.monotonic() - clock, "roles migration_owner, app_user, app_ro, matview_owner")
        clock = time.monotonic()
        result = self.sqitch("deploy")
        if result.returncode != 0:
            raise ClusterError(f"sqitch deploy failed: {last_line(result)}")
        deployed = sum(1 for line in result.stdout.splitlines() if line.startswith("  + "))
        detail = f"{deployed} changes deployed as migration_owner" if deployed else "schema up to date"
        progress("sqitch deploy", time.monotonic() - clock, detail)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = self._pg("pg_isready", "-h", str(self.run_dir), "-p", str(self.port), check=False)
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise ClusterError("postgres is not accepting connections")


def last_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


def run_sqitch(dsn: str, action: str, *args: str) -> subprocess.CompletedProcess:
    """Run sqitch against a libpq DSN as its user (migration_owner, never a superuser)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    target = "db:pg://{user}@{host}:{port}/{dbname}".format(
        user=quote(str(info.get("user", "migration_owner")), safe=""),
        host=info.get("host", "127.0.0.1"),
        port=info.get("port", 5432),
        dbname=quote(str(info.get("dbname", DATABASE)), safe=""),
    )
    env = {
        **os.environ,
        "SQITCH_PASSWORD": str(info.get("password", "")),
        "SQITCH_FULLNAME": os.environ.get("SQITCH_FULLNAME", "skeldir"),
        "SQITCH_EMAIL": os.environ.get("SQITCH_EMAIL", "skeldir@localhost"),
        "PGOPTIONS": "-c client_min_messages=warning",
    }
    command = ["sqitch", action]
    if action in ("deploy", "verify", "rebase", "checkout"):
        command += ["--set", f"pgmq_sql={pgmq_sql_path()}"]
    if action in ("revert", "rebase"):
        command += ["-y"]
    command += [*args, target]
    return subprocess.run(command, cwd=PROJECT_DIR, env=env, text=True, capture_output=True)
