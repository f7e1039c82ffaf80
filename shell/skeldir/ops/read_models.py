"""``skeldir db rebuild-read-models``: recompute every read model from the base tables.

One call of ``skeldir.read_models_rebuild`` as migration_owner (docs/dba.md); prints what
each view's rebuild did.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import psycopg

from skeldir.db import one_line
from skeldir.errors import CliError
from skeldir.ops.dsn import migration_dsn
from skeldir.ops.tables import print_table


def cmd_db_rebuild_read_models(args: argparse.Namespace) -> int:
    """Recomputes every read model from the base tables (skeldir.read_models_rebuild), one transaction."""
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
