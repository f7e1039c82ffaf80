"""Runs every pgTAP suite in tests/pgtap with pg_prove, each file on a fresh template clone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from support import Database

SUITES = sorted((Path(__file__).parent / "pgtap").glob("*.sql"))

LIBPQ_ENV = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE", "password": "PGPASSWORD"}


def libpq_env(dsn: str) -> dict[str, str]:
    """pg_prove splits --dbname on '=', so a URI cannot pass through it: hand libpq the parts."""
    return {LIBPQ_ENV[k]: str(v) for k, v in conninfo_to_dict(dsn).items() if k in LIBPQ_ENV and v is not None}


@pytest.mark.parametrize("suite", SUITES, ids=[s.stem for s in SUITES])
def test_pgtap_suite_passes(suite: Path, clone: Database) -> None:
    result = subprocess.run(
        ["pg_prove", "--verbose", "--failures", str(suite)],
        capture_output=True,
        text=True,
        env={**os.environ, **libpq_env(clone.admin)},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
