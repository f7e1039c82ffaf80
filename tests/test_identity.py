"""SPEC §3: shell and worker refuse privileged DSNs and run as app_user."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import Database


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize("role", ["admin", "migration"])
def test_runtime_refuses_privileged_dsn(command: str, role: str, main_db: Database) -> None:
    dsn = {"admin": main_db.admin, "migration": main_db.migration}[role]
    extra = ["--metrics-port", "0"] if command == "worker" else []
    result = subprocess.run(
        [sys.executable, "-m", "skeldir.cli", command, *extra],
        env={"SKELDIR_DATABASE_URL": dsn, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "refusing to run as" in lines[0]
    expected = "superuser" if role == "admin" else "owns"
    assert expected in lines[0]


def test_runtime_without_dsn_fails_with_one_line(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skeldir.cli", "serve"],
        env={"PATH": "/usr/bin:/bin", "SKELDIR_HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "SKELDIR_DATABASE_URL is not set" in result.stderr


def test_app_user_session_is_least_privileged(main_db: Database) -> None:
    import psycopg

    with psycopg.connect(main_db.app) as conn:
        row = conn.execute("SELECT * FROM api.session_identity()").fetchone()
    assert row == ("app_user", False, False, 0)
