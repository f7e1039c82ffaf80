"""Gate pgtap: every tests/pgtap suite through pg_prove, each on a fresh clone of a deployed template."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

from skeldir.config import PROJECT_DIR
from skeldir.ops.cluster import TEMPLATE_DATABASE, last_line
from skeldir.tools.prove.context import Context, GateFailed, NotAvailable, drop_database, recreate_database, write_csv


def pg_prove_connection(dsn: str) -> list[str]:
    """pg_prove passes --dbname through prove's key=value options, which mangle a URI: split it."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    flags = {"host": "--host", "port": "--port", "user": "--username", "dbname": "--dbname"}
    return [arg for key, flag in flags.items() if key in info for arg in (flag, str(info[key]))]


def pgtap_suites() -> list[Path]:
    return sorted((PROJECT_DIR / "tests" / "pgtap").glob("*.sql"))


def gate_pgtap(ctx: Context) -> dict[str, Any]:
    """Every tests/pgtap suite through pg_prove, each on a fresh clone of a deployed template."""
    suites = pgtap_suites()
    if not suites:
        raise NotAvailable("no pgTAP suites in tests/pgtap")
    c = ctx.cluster
    recreate_database(c, TEMPLATE_DATABASE)
    c.bootstrap(TEMPLATE_DATABASE, cron=False, pgtap=True)
    result = c.sqitch("deploy", database=TEMPLATE_DATABASE)
    if result.returncode != 0:
        raise GateFailed(f"template deploy failed: {last_line(result)}")
    tests = 0
    failed: list[str] = []
    rows = []
    for suite in suites:
        clone = f"prove_{uuid.uuid4().hex[:10]}"
        recreate_database(c, clone, template=TEMPLATE_DATABASE)
        try:
            run = subprocess.run(
                ["pg_prove", "--verbose", "--failures", *pg_prove_connection(c.admin_dsn(clone)), str(suite)],
                capture_output=True,
                text=True,
            )
        finally:
            drop_database(c, clone)
        ctx.evidence("pgtap", f"{suite.stem}.tap").write_text(run.stdout + run.stderr)
        count = re.search(r"Tests=(\d+)", run.stdout)
        n = int(count.group(1)) if count else 0
        tests += n
        rows.append([suite.name, run.returncode, n])
        if run.returncode != 0:
            failed.append(suite.stem)
    drop_database(c, TEMPLATE_DATABASE)
    write_csv(ctx.evidence("pgtap", "suites.csv"), ["suite", "exit", "tests"], rows)
    figures = {"suites": len(suites), "tests": tests, "failed_suites": failed}
    if failed:
        raise GateFailed(f"pgTAP suites failed: {', '.join(failed)}", figures)
    return figures
