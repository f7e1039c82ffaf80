"""Which DSN a command uses: the environment's, else the running embedded cluster's.

Never a privileged fallback: without ``SKELDIR_DATABASE_URL`` (app_user) or
``SKELDIR_MIGRATION_DATABASE_URL`` (migration_owner) and without a running embedded
cluster, a command fails with one line saying how to start it.
"""

from __future__ import annotations

from skeldir.config import Settings, env
from skeldir.errors import CliError
from skeldir.ops.cluster import Cluster


def cluster() -> Cluster:
    return Cluster(Settings.from_env())


def runtime_dsn() -> str:
    """app_user DSN: SKELDIR_DATABASE_URL, else the running embedded cluster's. Never privileged."""
    dsn = env("SKELDIR_DATABASE_URL")
    if dsn:
        return dsn
    c = cluster()
    if c.is_running():
        return c.dsn("app_user")
    raise CliError(
        "SKELDIR_DATABASE_URL is not set and the embedded cluster is not running (start it with: skeldir db up)"
    )


def migration_dsn() -> str:
    dsn = env("SKELDIR_MIGRATION_DATABASE_URL")
    if dsn:
        return dsn
    c = cluster()
    if c.is_running():
        return c.dsn("migration_owner")
    raise CliError(
        "SKELDIR_MIGRATION_DATABASE_URL is not set and the embedded cluster is not "
        "running (start it with: skeldir db up)"
    )
