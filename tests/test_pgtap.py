"""Runs every pgTAP suite in tests/pgtap with pg_prove, each file on a fresh template clone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from support import Database

SUITES = sorted((Path(__file__).parent / "pgtap").glob("*.sql"))


@pytest.mark.parametrize("suite", SUITES, ids=[s.stem for s in SUITES])
def test_pgtap_suite_passes(suite: Path, clone: Database) -> None:
    # pg_prove hands -d to psql as a plain name, so the URI is split into its parts.
    info = conninfo_to_dict(clone.admin)
    where = ["-d", str(info["dbname"]), "-U", str(info["user"]), "-h", str(info["host"]), "-p", str(info["port"])]
    result = subprocess.run(
        ["pg_prove", "--verbose", "--failures", *where, str(suite)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
