"""PgBouncer (Debian ``pgbouncer``) in transaction mode in front of the embedded cluster.

Skeldir is safe behind transaction pooling because the tenant GUC is only ever set
transaction-locally (SPEC §4); ``skeldir loadtest`` proves it under load with a concurrent
cross-tenant probe. PgBouncer 1.18 (Debian 12) does not track protocol-level prepared
statements, so a shell behind it runs with ``SKELDIR_PREPARED_STATEMENTS=off``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from skeldir.ops.cluster import DATABASE, Cluster, ClusterError, ensure_packages

BINARY = "/usr/sbin/pgbouncer"


@dataclass(frozen=True)
class Bouncer:
    folder: Path
    port: int

    @property
    def ini(self) -> Path:
        return self.folder / "pgbouncer.ini"

    def dsn(self, role: str, password: str, database: str = DATABASE) -> str:
        return f"postgresql://{role}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"


def write_config(cluster: Cluster, port: int, pool_size: int = 16, max_clients: int = 1000) -> Bouncer:
    """pgbouncer.ini + userlist.txt (0600) for the runtime roles of the embedded cluster."""
    folder = cluster.server_dir / "pgbouncer"  # PgBouncer runs as the server user: its folder is reachable
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    passwords = cluster.passwords()
    userlist = folder / "userlist.txt"
    userlist.touch(mode=0o600)
    userlist.write_text("".join(f'"{role}" "{passwords[role]}"\n' for role in ("app_user", "migration_owner")))
    settings = {
        "listen_addr": "127.0.0.1",
        "listen_port": str(port),
        "unix_socket_dir": "",
        "auth_type": "scram-sha-256",
        "auth_file": str(userlist),
        "pool_mode": "transaction",
        "default_pool_size": str(pool_size),
        "max_client_conn": str(max_clients),
        "server_reset_query": "",
        "ignore_startup_parameters": "extra_float_digits,options",
        "logfile": str(folder / "pgbouncer.log"),
        "pidfile": str(folder / "pgbouncer.pid"),
        "log_connections": "0",
        "log_disconnections": "0",
    }
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{DATABASE} = host=127.0.0.1 port={cluster.port} dbname={DATABASE}\n\n"
        "[pgbouncer]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    )
    user = "postgres" if os.geteuid() == 0 else None
    if user:  # PgBouncer refuses to run as root; the files must be the server user's
        for path in (folder, ini, userlist):
            shutil.chown(path, user, user)
    return Bouncer(folder, port)


def command(bouncer: Bouncer) -> list[str]:
    ensure_packages({"pgbouncer": BINARY})
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", BINARY, str(bouncer.ini)]
    return [BINARY, str(bouncer.ini)]


def start(bouncer: Bouncer) -> subprocess.Popen:
    proc = subprocess.Popen(command(bouncer), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(0.5)
    except subprocess.TimeoutExpired:
        return proc
    raise ClusterError(f"pgbouncer exited: {(proc.stderr.read() if proc.stderr else '').strip()[-300:]}")
