"""Runs every pgTAP suite in tests/pgtap with pg_prove, each file on a fresh template clone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from support import Database

SUITES = sorted((Path(__file__).parent / "pgtap").glob("*.sql"))


def pg_prove_connection(dsn: str) -> list[str]:
    """pg_prove passes --dbname through prove's key=value options, which mangle a URI: split it."""
    info = conninfo_to_dict(dsn)
    flags = {"host": "--host", "port": "--port", "user": "--username", "dbname": "--dbname"}
    return [arg for key, flag in flags.items() if key in info for arg in (flag, str(info[key]))]


@pytest.mark.parametrize("suite", SUITES, ids=[s.stem for s in SUITES])
def test_pgtap_suite_passes(suite: Path, clone: Database) -> None:
    result = subprocess.run(
        ["pg_prove", "--verbose", "--failures", *pg_prove_connection(clone.admin), str(suite)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "All tests successful" in result.stdout, result.stdout[-6000:]
