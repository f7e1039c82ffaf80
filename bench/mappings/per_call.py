#!/usr/bin/env python3
"""Per-call CPU of each vendor mapping, A/B: backend CPU time (/proc/<pid>/schedstat, ns) of N
calls in one statement, minus the same statement building the documents alone; databases
alternated per round on one cluster, so load from elsewhere shows in neither more than the
other. Run on the database host as a user who can read the backends' /proc entries:

    per_call.py --dsn before=postgresql://... --dsn after=postgresql://... [--rounds 3] [--calls 2000]

Cases are this folder's <case>.json files ({"headers": ..., "doc": ...}); the vendor is the
part of the name before "_". The document is built in memory per call (jsonb_set of its id,
a string), as the ingest path has it (bench/projection/per_call.sql does the same).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

HERE = Path(__file__).resolve().parent
CALL = (
    "SELECT count(skeldir._map_{vendor}(%(h)s, pg_catalog.jsonb_set(%(d)s, '{{id}}', pg_catalog.to_jsonb('x' || g))))"
    "  FROM pg_catalog.generate_series(1, %(n)s) AS g"
)
BASE = (
    "SELECT count(pg_catalog.jsonb_set(%(d)s, '{id}', pg_catalog.to_jsonb('x' || g)))"
    "  FROM pg_catalog.generate_series(1, %(n)s) AS g"
)


def cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def timed(conn: psycopg.Connection, pid: int, sql: str, params: dict) -> int:
    before = cpu_ns(pid)
    conn.execute(sql, params).fetchone()
    return cpu_ns(pid) - before


def timed_each(conn: psycopg.Connection, pid: int, sql: str, params: dict, calls: int) -> int:
    one = {**params, "n": 1}
    before = cpu_ns(pid)
    for _ in range(calls):
        conn.execute(sql, one).fetchone()
    return cpu_ns(pid) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", action="append", required=True, help="label=DSN (superuser or migration_owner)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cases", default="")
    parser.add_argument(
        "--per-transaction",
        action="store_true",
        help="each call its own statement and transaction (as a single delivery is): expression"
        " and plan set-up per transaction included; --calls of them",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    dsns = dict(item.split("=", 1) for item in args.dsn)
    cases = sorted(p.stem for p in HERE.glob("*.json"))
    if args.cases:
        cases = [c for c in cases if c in args.cases.split(",")]
    conns = {label: psycopg.connect(dsn, autocommit=True) for label, dsn in dsns.items()}
    pids = {label: conn.execute("SELECT pg_catalog.pg_backend_pid()").fetchone()[0] for label, conn in conns.items()}
    results: dict[str, dict[str, list[float]]] = {}
    for case in cases:
        spec = json.loads((HERE / f"{case}.json").read_text())
        vendor = case.split("_")[0]
        params = {"h": Jsonb(spec["headers"]), "d": Jsonb(spec["doc"]), "n": args.calls}
        per = results.setdefault(case, {label: [] for label in conns})
        for label, conn in conns.items():  # warm up: plans cached, pages read
            timed(conn, pids[label], CALL.format(vendor=vendor), params)
        for _ in range(args.rounds):
            for label, conn in conns.items():
                if args.per_transaction:
                    spent = timed_each(conn, pids[label], CALL.format(vendor=vendor), params, args.calls)
                    base = timed_each(conn, pids[label], BASE, params, args.calls)
                else:
                    spent = timed(conn, pids[label], CALL.format(vendor=vendor), params)
                    base = timed(conn, pids[label], BASE, params)
                per[label].append(round((spent - base) / args.calls / 1000, 1))
        line = "  ".join(
            f"{label} {statistics.median(v):6.1f} µs ({', '.join(map(str, v))})" for label, v in per.items()
        )
        labels = list(conns)
        ratio = statistics.median(per[labels[-1]]) / statistics.median(per[labels[0]]) if len(labels) > 1 else 1.0
        print(f"{case:15} {line}  {labels[-1]}/{labels[0]} {ratio:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "calls": args.calls,
                    "rounds": args.rounds,
                    "per_transaction": args.per_transaction,
                    "us_per_call": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
