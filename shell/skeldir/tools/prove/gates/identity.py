"""Gate identity: the live shell and worker are app_user without privilege; privileged DSNs are refused."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import psycopg
from psycopg.rows import dict_row

from skeldir.config import env
from skeldir.ops.cluster import Cluster
from skeldir.tools.prove.context import (
    APP_NAMES,
    FAULT_ENV,
    Context,
    GateFailed,
    admin_rows,
    query,
    wait_until,
    write_json,
)


def identity_of(cluster: Cluster, role: str) -> dict[str, Any]:
    with psycopg.connect(cluster.admin_dsn(), row_factory=dict_row) as conn:
        conn.execute(query("set_role"), {"role": role})
        row = conn.execute(query("session_identity")).fetchone()
        conn.rollback()
    assert row is not None
    return {k: row[k] for k in ("is_superuser", "bypass_rls", "owned_objects")}


def gate_identity(ctx: Context) -> dict[str, Any]:
    """Live shell and worker connections are app_user, not superuser, no BYPASSRLS, own nothing;
    a privileged DSN makes serve and worker refuse to start (exit 2, one line)."""
    fault = env(FAULT_ENV) == "identity"
    if fault:
        admin_rows(ctx.cluster, "fault_grant_bypassrls")
    try:
        names = list(APP_NAMES.values())
        sessions = wait_until(
            lambda: (
                (rows := admin_rows(ctx.cluster, "sessions", {"names": names}))
                and {r["application_name"] for r in rows} == set(names)
                and rows
            ),
            20,
            "shell and worker sessions did not both appear in pg_stat_activity",
        )
        assert isinstance(sessions, list)
        for session in sessions:  # what api.session_identity() says of each role, as that role
            session.update(identity_of(ctx.cluster, session["role_name"]))
    finally:
        if fault:
            admin_rows(ctx.cluster, "fault_revoke_bypassrls")
    write_json(ctx.evidence("identity", "sessions.json"), sessions)
    bad = [
        s
        for s in sessions
        if s["role_name"] != "app_user" or s["is_superuser"] or s["bypass_rls"] or s["owned_objects"]
    ]

    controls = []
    runs = {
        (command, role): subprocess.Popen(
            [sys.executable, "-m", "skeldir.cli", command, *(["--metrics-port", "0"] if command == "worker" else [])],
            env={**ctx.process_env("skeldir-prove-negative"), "SKELDIR_DATABASE_URL": dsn},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in ("serve", "worker")
        for role, dsn in (("migration_owner", ctx.migration_dsn), ("superuser", ctx.cluster.admin_dsn()))
    }
    for (command, role), proc in runs.items():
        try:
            _, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        lines = stderr.strip().splitlines()
        refused = proc.returncode == 2 and len(lines) == 1 and "refusing to run as" in lines[0]
        controls.append(
            {"command": command, "dsn_role": role, "exit": proc.returncode, "stderr": lines, "refused": refused}
        )
    write_json(ctx.evidence("identity", "negative_controls.json"), controls)

    figures = {
        "sessions": {s["application_name"]: {k: s[k] for k in ("role_name", "connections")} for s in sessions},
        "privileged_sessions": len(bad),
        "negative_controls": len(controls),
        "negative_controls_refused": sum(c["refused"] for c in controls),
        "fault_injected": fault,
    }
    if bad:
        raise GateFailed(f"privileged runtime sessions: {bad}", figures)
    if not all(c["refused"] for c in controls):
        raise GateFailed("a privileged DSN was not refused with exit 2 and one line", figures)
    return figures
