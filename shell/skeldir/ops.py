"""Operator subcommands: ``skeldir dashboard NAME`` and ``skeldir llm kill-switch on|off``.

Dashboards are the named queries in ``sql/dashboards/*.sql`` (see docs/dashboards.md); this
runs one in a single transaction as app_user, scoped to the tenant ``--tenant`` names by id or
slug (``api.tenant_scope``), and prints an aligned table or CSV. A tenant dashboard without
``--tenant`` is refused in one line rather than printing an empty table. The kill switch is
one call of ``api.llm_kill_switch_set`` as migration_owner.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from skeldir.config import PROJECT_DIR
from skeldir.db import one_line

DASHBOARD_DIR = PROJECT_DIR / "sql" / "dashboards"
# Dashboards with rows without a tenant; every other one shows one tenant's rows (docs/dashboards.md).
GLOBAL_DASHBOARDS = frozenset({"queue_health", "matview_freshness", "llm_breaker_shutoff"})


def dashboard_names() -> list[str]:
    return sorted(p.stem for p in DASHBOARD_DIR.glob("*.sql"))


def dashboard_path(name: str) -> Path:
    from skeldir.cli import CliError

    if name not in dashboard_names():
        raise CliError(f"unknown dashboard {name!r}; choose from {', '.join(dashboard_names())}")
    return DASHBOARD_DIR / f"{name}.sql"


def run_dashboard(dsn: str, name: str, tenant: str | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Runs one dashboard in one transaction (the tenant GUC is transaction-local)."""
    from skeldir.cli import CliError

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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], out=sys.stdout) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def print_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]], out=sys.stdout) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])


def cmd_dashboard(args: argparse.Namespace) -> int:
    from skeldir.cli import runtime_dsn

    columns, rows = run_dashboard(runtime_dsn(), args.name, args.tenant)
    (print_csv if args.csv else print_table)(columns, rows)
    return 0


def cmd_llm_kill_switch(args: argparse.Namespace) -> int:
    from skeldir.cli import CliError, migration_dsn

    try:
        with psycopg.connect(migration_dsn()) as conn:
            row = conn.execute("SELECT api.llm_kill_switch_set(%s)", [args.state == "on"]).fetchone()
    except psycopg.Error as exc:
        raise CliError(one_line(exc)) from exc
    assert row is not None
    print(f"llm kill switch is {'on: every provider call is blocked' if row[0] else 'off'}")
    return 0


def cmd_db_rebuild_read_models(args: argparse.Namespace) -> int:
    """Recomputes every read model from the base tables (skeldir.read_models_rebuild), one transaction."""
    from skeldir.cli import CliError, migration_dsn

    try:
        with psycopg.connect(migration_dsn()) as conn:
            cur = conn.execute(
                "SELECT view_name, outcome, groups, rows, round(duration_ms::numeric, 1) AS duration_ms"
                " FROM skeldir.read_models_rebuild(%s)",
                [args.trigger],
            )
            columns = [c.name for c in cur.description or []]
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise CliError(one_line(exc)) from exc
    print_table(columns, rows)
    return 0


def register_db(db: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Adds the operator actions of ``skeldir db`` (called by cli.build_parser)."""
    p = add(
        db,
        "rebuild-read-models",
        cmd_db_rebuild_read_models,
        "recompute every read model from the base tables (after a crash, a restore or a manual fix)",
    )
    p.add_argument("--trigger", default="rebuild", help="what the refresh log records as the trigger (default rebuild)")


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Adds the operator subcommands to the ``skeldir`` parser (called by cli.build_parser)."""
    p = add(sub, "dashboard", cmd_dashboard, "run an operator dashboard of sql/dashboards (table or CSV)")
    p.add_argument("name", help="one of: " + ", ".join(dashboard_names()))
    p.add_argument(
        "--tenant",
        help="tenant id or slug whose rows to show (required but for: " + ", ".join(sorted(GLOBAL_DASHBOARDS)) + ")",
    )
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    llm = sub.add_parser("llm", help="LLM boundary controls").add_subparsers(
        dest="llm_command", required=True, metavar="ACTION"
    )
    p = add(llm, "kill-switch", cmd_llm_kill_switch, "turn every LLM provider call off (on) or back on (off)")
    p.add_argument("state", choices=["on", "off"])
    from skeldir.llm import models

    models.register(llm, add)
