"""``skeldir prove``: one command, a fresh cluster, every gate, a checksummed evidence pack.

The run brings up its OWN embedded cluster (a temporary ``SKELDIR_HOME`` on a free port,
never the developer's), bootstraps and deploys it, starts ``skeldir serve`` and
``skeldir worker`` as app_user, then runs the gates of ``GATES`` in order. Each gate returns
its figures and writes its evidence under ``gates/<name>/``; it fails by raising
``GateFailed`` and says it cannot run in this build by raising ``NotAvailable`` (a gate that
did not run is never reported as passed). The pack holds ``gate_summary.json``, the logs,
the evidence, ``manifest.sha256`` over every file, and a zip of it all with its own
``.sha256``; ``skeldir prove --verify DIR`` re-checks all of that.

Exit status: 0 every gate passed; 1 a gate failed; 3 nothing failed but some gate was not
available (0 with ``--allow-unavailable``); 2 the pack did not verify or the run could not start.

Adding a gate is one entry in ``GATES``; adding a vendor's end-to-end chain is one entry
in ``E2E_DELIVERIES``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from skeldir.config import PROJECT_DIR, Settings, env
from skeldir.ops.cluster import Cluster, ClusterError, pgmq_sql_path
from skeldir.tools.prove.context import (
    FAULT_ENV,
    Context,
    GateFailed,
    NotAvailable,
    ProveError,
    admin_rows,
    free_port,
    write_json,
)
from skeldir.tools.prove.deliveries import E2E_DELIVERIES
from skeldir.tools.prove.gates.dashboards import gate_dashboards
from skeldir.tools.prove.gates.e2e import e2e_gate
from skeldir.tools.prove.gates.failure import gate_failure_database, gate_failure_worker
from skeldir.tools.prove.gates.hygiene import gate_hygiene
from skeldir.tools.prove.gates.identity import gate_identity
from skeldir.tools.prove.gates.llm import gate_e2e_llm
from skeldir.tools.prove.gates.load import gate_load
from skeldir.tools.prove.gates.pgtap import gate_pgtap
from skeldir.tools.prove.gates.poison_pill import gate_poison_pill
from skeldir.tools.prove.gates.schema import gate_schema
from skeldir.tools.prove.pack import SUMMARY, ZIP_NAME, prepare_pack, seal, verify


@dataclass(frozen=True)
class Gate:
    name: str
    run: Callable[[Context], dict[str, Any]]
    required: bool = True


GATES: list[Gate] = [
    Gate("identity", gate_identity),
    Gate("schema", gate_schema),
    Gate("pgtap", gate_pgtap),
    *(Gate(f"e2e_{vendor}", e2e_gate(vendor)) for vendor in E2E_DELIVERIES),
    Gate("e2e_llm", gate_e2e_llm),
    Gate("poison_pill", gate_poison_pill),
    Gate("load", gate_load),
    Gate("dashboards", gate_dashboards),  # after the gates whose tenants give it rows
    Gate("failure_worker", gate_failure_worker),
    Gate("failure_database", gate_failure_database),
    Gate("hygiene", gate_hygiene),  # last: scans the logs of everything above
]


def run_gate(gate: Gate, ctx: Context) -> dict[str, Any]:
    started = time.monotonic()
    record: dict[str, Any] = {"name": gate.name, "required": gate.required, "description": (gate.run.__doc__ or "")}
    record["description"] = " ".join(record["description"].split())
    try:
        record["figures"] = gate.run(ctx)
        record["status"] = "passed"
    except NotAvailable as exc:
        record.update(status="not_available", reason=str(exc), figures={})
    except GateFailed as exc:
        record.update(status="failed", reason=str(exc), figures=exc.figures)
    except Exception as exc:  # a gate that crashes has failed; say how
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}", figures={})
    record["duration_s"] = round(time.monotonic() - started, 3)
    gate_dir = ctx.pack / "gates" / gate.name
    record["evidence"] = (
        sorted(str(p.relative_to(ctx.pack)) for p in gate_dir.rglob("*") if p.is_file()) if gate_dir.exists() else []
    )
    return record


def versions(cluster: Cluster) -> dict[str, Any]:
    from pgmq.install import get_embedded_sql_version

    row = admin_rows(cluster, "versions")[0]

    def tool(*command: str) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "missing"
        return out.splitlines()[0] if out else "unknown"

    return {
        "postgres": row["postgres"],
        "pg_cron": row["pg_cron"],
        "pgmq_pip": importlib.metadata.version("pgmq"),
        "pgmq_sql": get_embedded_sql_version(),
        "pgmq_sql_sha256": hashlib.sha256(pgmq_sql_path().read_bytes()).hexdigest(),
        "python": platform.python_version(),
        "psycopg": importlib.metadata.version("psycopg"),
        "sqitch": tool("sqitch", "--version"),
        "pg_prove": tool("pg_prove", "--version"),
        "skeldir": importlib.metadata.version("skeldir") if _installed("skeldir") else "source",
        "git_commit": tool("git", "-C", str(PROJECT_DIR), "rev-parse", "HEAD"),
        "git_dirty": tool("git", "-C", str(PROJECT_DIR), "status", "--porcelain") not in ("unknown", "missing"),
    }


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def verdict(records: list[dict[str, Any]], allow_unavailable: bool) -> tuple[str, int]:
    """(overall, exit status): failed/1 if a required gate failed; incomplete/3 (0 when allowed)
    if a gate did not run; passed/0 only when every gate passed. No gate run: incomplete."""
    if any(r["status"] == "failed" and r["required"] for r in records):
        return "failed", 1
    if not records or any(r["status"] != "passed" for r in records):
        return "incomplete", 0 if allow_unavailable else 3
    return "passed", 0


def run(out: Path | None, quick: bool, selected: list[str] | None, allow_unavailable: bool) -> int:
    unknown = sorted(set(selected or []) - {g.name for g in GATES})
    if unknown:
        raise ProveError(f"unknown gate(s) {', '.join(unknown)}; choose from {', '.join(g.name for g in GATES)}")
    pack = prepare_pack(out)
    home = Path(tempfile.mkdtemp(prefix="skeldir-prove-"))
    base = Settings.from_env()
    cluster = Cluster(Settings(**{**base.__dict__, "home": home, "port": free_port()}))
    ctx = Context(cluster=cluster, pack=pack, quick=quick, worker_metrics_port=free_port())
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    records: list[dict[str, Any]] = []
    print(f"skeldir prove: pack {pack}, cluster {home} on port {cluster.port}", flush=True)
    try:
        try:
            cluster.up()
        except ClusterError as exc:
            raise ProveError(f"could not bring up the proof cluster: {exc}") from exc
        ctx.start_shell(free_port())
        ctx.start_worker()
        for gate in GATES:
            if selected and gate.name not in selected:
                continue
            record = run_gate(gate, ctx)
            records.append(record)
            reason = f" ({record['reason']})" if record.get("reason") else ""
            print(f"  {record['status']:<13} {gate.name:<18} {record['duration_s']:>7.1f} s{reason}", flush=True)
        try:
            found = versions(cluster)
        except (psycopg.Error, OSError) as exc:  # e.g. a gate left the server down: say so, keep the pack
            found = {"error": f"{type(exc).__name__}: {exc}"}
    except GateFailed as exc:
        raise ProveError(f"could not start shell and worker: {exc}") from exc
    finally:
        for name in list(ctx.processes):
            ctx.stop_process(name)
        if cluster.log_file.exists():
            shutil.copyfile(cluster.log_file, pack / "logs" / "postgres.log")
        cluster.stop("fast")
        shutil.rmtree(home, ignore_errors=True)

    overall, code = verdict(records, allow_unavailable)
    failed = [r["name"] for r in records if r["status"] == "failed"]
    unavailable = [r["name"] for r in records if r["status"] == "not_available"]
    summary = {
        "overall": overall,
        "exit_code": code,
        "failed_gates": failed,
        "not_available_gates": unavailable,
        "quick": quick,
        "fault_injected": env(FAULT_ENV),
        "started_at": started_at.isoformat(),
        "duration_s": round(time.monotonic() - clock, 3),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": found,
        "gates": records,
    }
    write_json(pack / SUMMARY, summary)
    seal(pack)
    print(f"skeldir prove: {overall}", end="")
    if failed:
        print(f"; failed gate(s): {', '.join(failed)}", end="")
    if unavailable:
        print(f"; not available: {', '.join(unavailable)}", end="")
    print(f"\n  {pack / SUMMARY}\n  {pack / ZIP_NAME} (sha256 in {ZIP_NAME}.sha256)", flush=True)
    return code


def command(args: argparse.Namespace) -> int:
    """Entry point of ``skeldir prove``."""
    if args.verify:
        problems = verify(Path(args.verify))
        for problem in problems:
            print(f"skeldir prove --verify: {problem}", file=sys.stderr)
        if not problems:
            print(f"{args.verify}: every checksum matches")
        return 2 if problems else 0
    selected = [g.strip() for g in args.gates.split(",") if g.strip()] if args.gates else None
    try:
        return run(Path(args.out) if args.out else None, args.quick, selected, args.allow_unavailable)
    except ProveError as exc:
        print(f"skeldir prove: {exc}", file=sys.stderr)
        return 2


def add_parser(sub: Any) -> None:
    """Registers ``skeldir prove`` on the CLI's subparsers."""
    p = sub.add_parser(
        "prove",
        help="fresh cluster, every gate, checksummed evidence pack (or --verify a pack)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.set_defaults(handler=command)
    p.add_argument("--out", metavar="DIR", help="pack folder, new or empty (default: proof/<UTC timestamp>)")
    p.add_argument("--quick", action="store_true", help="load gate runs 10 s instead of 60 s")
    p.add_argument("--gates", metavar="A,B", help=f"run only these gates ({', '.join(g.name for g in GATES)})")
    p.add_argument(
        "--allow-unavailable", action="store_true", help="exit 0 when no gate failed even if some were not available"
    )
    p.add_argument("--verify", metavar="DIR", help="re-check a pack's manifest, zip and zip checksum; exit 2 if not")
