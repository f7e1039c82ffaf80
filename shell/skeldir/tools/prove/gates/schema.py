"""Gate schema: sqitch deploy -> verify -> revert -> deploy leaves the same normalized schema."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from skeldir.ops.cluster import last_line
from skeldir.tools.prove.context import (
    Context,
    GateFailed,
    admin_rows,
    drop_database,
    plan_changes,
    recreate_database,
    schema_dump,
)


def gate_schema(ctx: Context) -> dict[str, Any]:
    """sqitch deploy -> verify -> revert -> deploy is clean and leaves the same normalized schema."""
    c, database = ctx.cluster, "skeldir_roundtrip"
    recreate_database(c, database)
    c.bootstrap(database, cron=False)
    log = ctx.evidence("schema", "sqitch.log").open("w")
    first = ""
    try:
        for step, action in enumerate(("deploy", "verify", "revert", "deploy")):
            started = time.monotonic()
            result = c.sqitch(action, database=database)
            log.write(f"$ sqitch {action}  # exit {result.returncode}, {time.monotonic() - started:.2f} s\n")
            log.write(result.stdout + result.stderr + "\n")
            if result.returncode != 0:
                raise GateFailed(f"sqitch {action} failed: {last_line(result)}")
            if step == 1:
                first = schema_dump(c, database)
                ctx.evidence("schema", "schema.sql").write_text(first + "\n")
            if action == "revert":
                leftovers = [r["nspname"] for r in admin_rows(c, "leftover_schemas", database=database)]
                if leftovers:
                    raise GateFailed(f"revert left schemas behind: {leftovers}")
        second = schema_dump(c, database)
    finally:
        log.close()
        drop_database(c, database)
    changes = plan_changes()
    figures = {
        "changes": len(changes),
        "schema_sha256": hashlib.sha256(first.encode()).hexdigest(),
        "identical_after_redeploy": first == second,
    }
    if first != second:
        import difflib

        diff = difflib.unified_diff(first.splitlines(), second.splitlines(), "deploy", "redeploy", lineterm="")
        ctx.evidence("schema", "schema.diff").write_text("\n".join(diff) + "\n")
        raise GateFailed("schema after revert + deploy differs from the first deploy (see schema.diff)", figures)
    return figures
