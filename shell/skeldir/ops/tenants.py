"""Operator commands for tenant secrets and dead letters: thin calls of api functions.

They run as migration_owner (``SKELDIR_MIGRATION_DATABASE_URL`` or the embedded cluster's);
the database validates, decides and raises; this module only prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from skeldir.db import one_line
from skeldir.errors import CliError
from skeldir.ops.dsn import migration_dsn

VENDORS = ("stripe", "shopify", "woocommerce", "paypal", "standard")

Add = Callable[..., argparse.ArgumentParser]


def _call(query: str, params: list[Any]) -> list[dict[str, Any]]:
    try:
        with psycopg.connect(migration_dsn(), row_factory=dict_row) as conn:
            return conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        raise CliError(one_line(exc)) from exc


def _secret_arg(args: argparse.Namespace) -> str | None:
    if args.secret_file is None:
        return args.secret
    try:
        text = sys.stdin.read() if args.secret_file == "-" else Path(args.secret_file).read_text()
    except OSError as exc:
        raise CliError(f"cannot read {args.secret_file}: {exc.strerror}") from exc
    return text.strip()


def _print_json(value: object) -> None:
    print(json.dumps(value, default=str))


def cmd_set_secret(args: argparse.Namespace) -> int:
    row = _call(
        "SELECT tenant_id, secret_in_effect FROM api.tenant_secret_set(%s, %s, %s, %s)",
        [args.tenant, args.vendor, _secret_arg(args), args.webhook_id],
    )[0]
    if args.json:
        _print_json({"tenant_id": row["tenant_id"], "vendor": args.vendor, "secret": row["secret_in_effect"]})
    elif args.vendor == "paypal":
        print(f"{args.vendor}: certificate pinned for tenant {row['tenant_id']}; previous secret revoked")
    else:
        print(f"{args.vendor} secret (previous one revoked now): {row['secret_in_effect']}")
    return 0


def cmd_rotate_secret(args: argparse.Namespace) -> int:
    row = _call(
        "SELECT tenant_id, secret_in_effect, previous_expires_at"
        " FROM api.tenant_secret_rotate(%s, %s, %s, %s::interval)",
        [args.tenant, args.vendor, _secret_arg(args), args.window],
    )[0]
    if args.json:
        _print_json(
            {
                "tenant_id": row["tenant_id"],
                "vendor": args.vendor,
                "secret": row["secret_in_effect"],
                "previous_expires_at": row["previous_expires_at"],
            }
        )
    else:
        new = "certificate pinned" if args.vendor == "paypal" else f"new secret {row['secret_in_effect']}"
        print(f"{args.vendor}: {new}; the previous one works until {row['previous_expires_at']:%Y-%m-%d %H:%M:%S %Z}")
    return 0


DLQ_COLUMNS = (
    "dead_event_id",
    "tenant_slug",
    "vendor",
    "reason",
    "received_at",
    "replay_outcome",
    "replay_event_id",
    "detail",  # last: free text of any length, so it does not push the other columns apart
)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def cmd_dlq_list(args: argparse.Namespace) -> int:
    rows = _call("SELECT * FROM api.dead_letter_list(%s, %s, %s)", [args.tenant, args.reason, args.include_replayed])
    if args.json:
        _print_json(rows)
        return 0
    table = [[("" if r[c] is None else str(r[c])) for c in DLQ_COLUMNS] for r in rows]
    widths = [max([len(c), *(len(t[i]) for t in table)]) for i, c in enumerate(DLQ_COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(DLQ_COLUMNS, widths, strict=True)).rstrip())
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())
    print(f"({plural(len(rows), 'dead letter')})")
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    if (args.id is None) == (args.reason is None):
        raise CliError("dlq replay: give either a dead letter ID or --reason R")
    if args.id is not None:
        rows = _call(
            "SELECT %s::bigint AS dead_event_id, tenant_id, outcome, event_id, reason AS reason_now"
            " FROM api.dead_letter_replay(%s)",
            [args.id, args.id],
        )
    else:
        rows = _call("SELECT * FROM api.dead_letter_replay_reason(%s, %s)", [args.reason, args.tenant])
    still_failing = [r for r in rows if r["outcome"] in STILL_FAILING]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"dead letter {r['dead_event_id']}: {r['outcome']} ({replay_target(r)})")
        print(replay_summary(rows, len(still_failing)))
    return 3 if still_failing else 0


def replay_target(row: dict[str, Any]) -> str:
    if row["event_id"] is not None:
        return f"event {row['event_id']}"
    if row["outcome"] == "not_replayable":
        return f"{row['reason_now']}: only the body's hash was kept; the sender must deliver it again"
    return row["reason_now"]


# Outcomes after which a dead letter stays pending; any of them makes `dlq replay` exit 3.
STILL_FAILING = ("dead_lettered", "not_replayable")


def replay_summary(rows: list[dict[str, Any]], failing: int) -> str:
    """One closing line: what happened to how many, and why the exit status is what it is."""
    if not rows:
        return "(no pending dead letters matched; nothing replayed)"
    outcomes: dict[str, int] = {}
    for r in rows:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    counts = ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items())
    if not failing:
        return f"({plural(len(rows), 'dead letter')} replayed: {counts})"
    return f"({plural(len(rows), 'dead letter')}: {counts}; {failing} still pending, exit 3)"


def register_tenant(tenant: argparse._SubParsersAction, add: Add) -> None:
    for name, handler, text in (
        ("set-secret", cmd_set_secret, "replace a vendor secret now (generated unless given)"),
        ("rotate-secret", cmd_rotate_secret, "roll a vendor secret; the previous one works for --window"),
    ):
        p = add(tenant, name, handler, text)
        p.add_argument("tenant", help="tenant id or slug")
        p.add_argument("vendor", choices=VENDORS)
        given = p.add_mutually_exclusive_group()
        given.add_argument("--secret", help="the secret (PayPal: PEM certificate); generated when omitted")
        given.add_argument("--secret-file", help="read the secret or PEM certificate from a file ('-': stdin)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        if handler is cmd_set_secret:
            p.add_argument("--webhook-id", help="PayPal: the tenant's PayPal webhook id")
        else:
            p.add_argument("--window", help="how long the previous secret keeps working (default: 24 hours)")


def register_dlq(sub: argparse._SubParsersAction, add: Add) -> None:
    dlq = sub.add_parser("dlq", help="dead letters: list and replay").add_subparsers(
        dest="dlq_command", required=True, metavar="ACTION"
    )
    p = add(dlq, "list", cmd_dlq_list, "pending dead letters, newest first")
    p.add_argument("--tenant", help="tenant id or slug")
    p.add_argument("--reason", help="reason code, exact or prefix (missing_field matches missing_field:<path>)")
    p.add_argument("--all", dest="include_replayed", action="store_true", help="include replayed ones")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p = add(dlq, "replay", cmd_dlq_replay, "re-run dead letters through the same mapping and dedupe")
    p.epilog = (
        "exit status: 0 every dead letter replayed (accepted, duplicate or ignored), 3 some still pending, 1 error"
    )
    p.add_argument("id", nargs="?", type=int, help="dead letter id")
    p.add_argument("--reason", help="replay every pending dead letter with this reason")
    p.add_argument("--tenant", help="with --reason: only this tenant (id or slug)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
