"""Gate dashboards: every sql/dashboards file runs for a tenant of the run and returns rows."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

from skeldir.config import PROJECT_DIR
from skeldir.tools.prove.context import Context, GateFailed, NotAvailable


def dashboard_command_available() -> bool:
    """Whether this build's CLI has ``skeldir dashboard`` (issue 5; registered by skeldir.ops.dashboards)."""
    return importlib.util.find_spec("skeldir.ops.dashboards") is not None


def dashboard_files() -> list[Path]:
    return sorted((PROJECT_DIR / "sql" / "dashboards").glob("*.sql"))


def run_dashboard(ctx: Context, path: Path, tenant_id: str, via_cli: bool) -> subprocess.CompletedProcess:
    if via_cli:  # the operator's own command (issue 5), with the processes' runtime DSN
        command = [sys.executable, "-m", "skeldir.cli", "dashboard", path.stem, "--tenant", tenant_id, "--csv"]
        return subprocess.run(command, env=ctx.process_env("skeldir-prove-dashboard"), capture_output=True, text=True)
    # SPEC §8: each file runs with psql under a tenant GUC, as app_user.
    script = f"SELECT set_config('app.current_tenant_id', :'tenant', true) \\g /dev/null\n\\i {path}\n"
    return subprocess.run(
        ["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-v", f"tenant={tenant_id}",
         "--single-transaction", "-f", "-", ctx.app_dsn],
        input=script, capture_output=True, text=True,
    )  # fmt: skip


def gate_dashboards(ctx: Context) -> dict[str, Any]:
    """Every sql/dashboards file runs with psql as app_user under a tenant GUC and returns rows."""
    dashboards = dashboard_files()
    if not dashboards:
        raise NotAvailable("no dashboards in sql/dashboards (issue 5)")
    if not ctx.tenants:
        raise GateFailed("no tenant with traffic to run the dashboards for (run an e2e gate first)")
    counts: dict[str, int] = {}
    errors: dict[str, str] = {}
    via_cli = dashboard_command_available()
    for path in dashboards:
        # Each tenant of this run (e2e, load, poison pill...) in turn; the dashboard needs rows for one.
        for tenant in ctx.tenants:
            run = run_dashboard(ctx, path, tenant["tenant_id"], via_cli)
            if run.returncode != 0:
                errors[path.stem] = (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1]
                break
            rows = max(0, len([line for line in run.stdout.splitlines() if line]) - 1)
            counts[path.stem] = counts.get(path.stem, 0) + rows
            if rows:
                ctx.evidence("dashboards", f"{path.stem}.csv").write_text(run.stdout)
                break
    empty = sorted(name for name, n in counts.items() if n == 0)
    figures = {
        "dashboards": len(dashboards),
        "via": "skeldir dashboard" if via_cli else "psql",
        "rows": counts,
        "errors": errors,
        "empty": empty,
    }
    if errors or empty:
        raise GateFailed(f"dashboards failed: {sorted(errors)} empty: {empty}", figures)
    return figures
