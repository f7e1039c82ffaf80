"""``skeldir dashboard NAME``: an operator dashboard of ``sql/dashboards``.

Dashboards are the named queries in ``sql/dashboards/*.sql`` (see docs/dashboards.md); this
runs one in a single transaction as app_user, scoped to the tenant ``--tenant`` names by id or
slug (``api.tenant_scope``), and prints an aligned table or CSV. A tenant dashboard without
``--tenant`` is refused in one line rather than printing an empty table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from skeldir.config import PROJECT_DIR
from skeldir.db import one_line
from skeldir.errors import CliError
from skeldir.ops.dsn import runtime_dsn
from skeldir.ops.tables import print_csv, print_table

DASHBOARD_DIR = PROJECT_DIR / "sql" / "dashboards"
# Dashboards with rows without a tenant; every other one shows one tenant's rows (docs/dashboards.md).
GLOBAL_DASHBOARDS = frozenset({"queue_health", "matview_freshness", "llm_breaker_shutoff"})


def dashboard_names() -> list[str]:
    return sorted(p.stem for p in DASHBOARD_DIR.glob("*.sql"))


def dashboard_path(name: str) -> Path:
    if name not in dashboard_names():
        raise CliError(f"unknown dashboard {name!r}; choose from {', '.join(dashboard_names())}")
    return DASHBOARD_DIR / f"{name}.sql"


def run_dashboard(dsn: str, name: str, tenant: str | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Runs one dashboard in one transaction (the tenant GUC is transaction-local)."""
    query = dashboard_path(name).read_text()
    if not tenant and name not in GLOBAL_DASHBOARDS:
        raise CliError(f"dashboard {name} shows one tenant's rows: pass --tenant with a tenant id or slug")
    try:
        with psycopg.connect(dsn) as conn:
            if tenant:
                conn.execute("SELECT api.tenant_scope(%s)", [tenant])
            cur = conn.execute(query)
            columns = [d.name for d in cur.description or []]
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise CliError(f"dashboard {name}: {one_line(exc)}") from exc
    return columns, rows


def cmd_dashboard(args: argparse.Namespace) -> int:
    columns, rows = run_dashboard(runtime_dsn(), args.name, args.tenant)
    (print_csv if args.csv else print_table)(columns, rows)
    return 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Adds ``skeldir dashboard`` (called by cli.build_parser)."""
    p = add(sub, "dashboard", cmd_dashboard, "run an operator dashboard of sql/dashboards (table or CSV)")
    p.add_argument("name", help="one of: " + ", ".join(dashboard_names()))
    p.add_argument(
        "--tenant",
        help="tenant id or slug whose rows to show (required but for: " + ", ".join(sorted(GLOBAL_DASHBOARDS)) + ")",
    )
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
