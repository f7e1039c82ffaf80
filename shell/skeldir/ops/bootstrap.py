"""``skeldir db bootstrap``: sql/bootstrap.sql on an existing server (compose, managed Postgres).

The only step that needs a superuser DSN. It creates the roles of SPEC §3 and the database,
with the passwords and database name taken from the two runtime DSNs, so the DSNs the shell,
worker and sqitch use are the single source of truth. Nothing here falls back to another DSN.
"""

from __future__ import annotations

import argparse
import subprocess

from psycopg.conninfo import conninfo_to_dict

from skeldir.config import PROJECT_DIR, env

ROLES = {"SKELDIR_MIGRATION_DATABASE_URL": "migration_owner", "SKELDIR_DATABASE_URL": "app_user"}


class BootstrapError(Exception):
    """Printed as one line by the CLI."""


def required(name: str) -> str:
    value = env(name)
    if not value:
        raise BootstrapError(f"{name} is not set; skeldir db bootstrap needs it (no fallback)")
    return value


def plan() -> tuple[str, str, dict[str, str]]:
    """(admin DSN, database, role -> password) from the environment, or a one-line error."""
    admin = required("SKELDIR_ADMIN_DATABASE_URL")
    databases, passwords = set(), {}
    for name, role in ROLES.items():
        info = conninfo_to_dict(required(name))
        if info.get("user") != role:
            raise BootstrapError(f"{name} must connect as {role}, not {info.get('user') or '(no user)'}")
        if not info.get("password"):
            raise BootstrapError(f"{name} carries no password for {role}")
        databases.add(str(info.get("dbname") or role))
        passwords[role] = str(info["password"])
    if len(databases) != 1:
        raise BootstrapError(f"the DSNs name different databases: {', '.join(sorted(databases))}")
    return admin, databases.pop(), passwords


def bootstrap(cron: bool = True) -> str:
    """Runs sql/bootstrap.sql as the superuser DSN; returns the database bootstrapped."""
    admin, database, passwords = plan()
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", admin,
         "-v", f"db={database}",
         "-v", f"migration_password={passwords['migration_owner']}",
         "-v", f"app_password={passwords['app_user']}",
         "-v", f"with_cron={'on' if cron else 'off'}",
         "-v", "with_pgtap=off",
         "-f", str(PROJECT_DIR / "sql" / "bootstrap.sql")],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or [f"psql exit {result.returncode}"]
        raise BootstrapError(f"bootstrap failed: {lines[-1]}")
    return database


def command(args: argparse.Namespace) -> int:
    """Entry point of ``skeldir db bootstrap``."""
    import sys

    try:
        database = bootstrap(cron=not args.no_cron)
    except BootstrapError as exc:
        print(f"skeldir db bootstrap: {exc}", file=sys.stderr)
        return 1
    print(f"bootstrapped database {database}: roles migration_owner, app_user, app_ro, matview_owner")
    return 0


def add_parser(db: argparse._SubParsersAction) -> None:
    """Registers ``skeldir db bootstrap``."""
    help_text = "run sql/bootstrap.sql with SKELDIR_ADMIN_DATABASE_URL (roles and database from the DSNs)"
    p = db.add_parser("bootstrap", help=help_text, description=help_text)
    p.set_defaults(handler=command)
    p.add_argument("--no-cron", action="store_true", help="skip pg_cron (it needs cron.database_name = this db)")
