"""The embedded cluster where root naturally clones to: a folder only root can enter.

As root the server runs as ``postgres``, which cannot traverse a mode-700 parent (``/root``,
anything ``mktemp -d`` makes); the cluster keeps the server's own files in a folder of its own
under /var/lib/skeldir then, and the home folder keeps the passwords.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from skeldir.config import Settings
from skeldir.ops.cluster import SERVER_ROOT, Cluster
from support import free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")


def can_enter_as_postgres(path: Path) -> bool:
    return subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)]).returncode == 0


def test_cluster_comes_up_as_root_in_a_clone_under_a_mode_700_folder() -> None:
    private = Path(tempfile.mkdtemp(prefix="skeldir-private-"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    home = private / "clone" / ".skeldir"
    c = Cluster(Settings(**{**Settings.from_env().__dict__, "home": home, "port": free_port()}))
    try:
        c.start()
        c.bootstrap()
        with psycopg.connect(c.dsn("app_user")) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("app_user",)

        assert not can_enter_as_postgres(home), "the trap is set: postgres cannot reach the home folder"
        assert c.server_dir.parent == SERVER_ROOT
        assert can_enter_as_postgres(c.data)
        assert (home / "passwords.json").exists() and not (c.server_dir / "passwords.json").exists()

        # A new process finds the same cluster through the home folder, and restarts it.
        c.stop()
        again = Cluster(c.settings)
        assert again.data == c.data and again.is_initialized() and not again.is_running()
        again.start()
        with psycopg.connect(again.dsn("migration_owner")) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("migration_owner",)
    finally:
        server_dir = c.server_dir
        c.destroy()
        shutil.rmtree(private, ignore_errors=True)
    assert not server_dir.exists() and not home.exists()
