"""Gate load: the predecessor's 46/s profile with full accounting (the ``skeldir loadtest`` harness)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skeldir.tools import loadtest
from skeldir.tools.prove.context import Context, GateFailed, write_json

LOAD_RATE = 46.0  # the predecessor's sustained webhook profile, requests per second
LOAD_SECONDS = {False: 60.0, True: 10.0}  # keyed by --quick


def run_loadtest(ctx: Context, rate: float, seconds: float) -> dict[str, Any]:
    """The issue 7 harness (``skeldir.tools.loadtest``). Its own accounting failures (bypass, loss,
    cross-tenant GUC leaks) fail the gate too."""
    shell = ctx.processes.get("shell")
    opts = loadtest.Options(
        url=ctx.shell_url,
        app_dsn=ctx.app_dsn,
        migration_dsn=ctx.migration_dsn,
        rate=rate,
        duration=seconds,
        shell_pid=shell.pid if shell else None,
    )
    result = loadtest.run(opts)
    write_json(ctx.evidence("load", "loadtest.json"), result)
    # The harness creates its own tenants; the dashboards gate reads their rows (dead letters) too.
    ctx.tenants.extend({"tenant_id": tenant_id} for tenant_id in result.get("tenant_ids", []))
    latency = result["latency_ms"]
    return {
        "target_rate": rate,
        "seconds": seconds,
        "sent": result["sent"],
        "received": result["received"],
        "achieved_rate": result["achieved_rate"],
        "p50_ms": latency["p50"],
        "p95_ms": latency["p95"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
        "statuses": {str(k): v for k, v in result["statuses"].items()},
        "outcomes": result["outcomes"],
        "new_events": result["db_delta"]["events"],
        "new_dead_letters": result["db_delta"]["dead_letters"],
        "harness_failures": result["failures"],
        "shell_rss_peak_mb": result.get("shell_rss_peak_mb"),
        "harness": "skeldir.loadtest",
    }


# The load runner: (ctx, rate, seconds) -> figures with the keys run_loadtest returns, checked by
# gate_load's accounting (plus harness_failures when the runner reports its own).
LOAD_RUNNER: Callable[[Context, float, float], dict[str, Any]] = run_loadtest


def gate_load(ctx: Context) -> dict[str, Any]:
    """The predecessor's 46/s profile for 60 s (10 s with --quick), with full accounting:
    sent = received, no 5xx or connection errors, accepted = new events, dead_lettered = new
    dead letters, duplicates add nothing."""
    figures = LOAD_RUNNER(ctx, LOAD_RATE, LOAD_SECONDS[ctx.quick])
    write_json(ctx.evidence("load", "load.json"), figures)
    outcomes = figures["outcomes"]
    checks = {
        "sent = received": figures["sent"] == figures["received"],
        "no 5xx or connection errors": all(not (s == "0" or s.startswith("5")) for s in figures["statuses"]),
        "accepted = new events": outcomes.get("accepted", 0) == figures["new_events"],
        "dead_lettered = new dead letters": outcomes.get("dead_lettered", 0) == figures["new_dead_letters"],
        "every request answered with a known outcome": set(outcomes) <= {"accepted", "duplicate", "dead_lettered"},
        "harness reports no accounting failure": not figures.get("harness_failures"),
    }
    figures["checks"] = checks
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise GateFailed(f"load accounting broke: {', '.join(failed)}", figures)
    return figures
