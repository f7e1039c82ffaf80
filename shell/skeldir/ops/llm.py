"""Operator commands of the LLM boundary: ``skeldir llm kill-switch on|off``, ``skeldir llm model set``
and ``skeldir llm model list``.

The kill switch is one call of ``api.llm_kill_switch_set`` as migration_owner.

A model is bound to its provider and priced in SQL (``api.llm_model_set`` as
migration_owner); ``list`` reads ``api.llm_models``. How a provider is reached (base URL,
API key) is never stored: it is the worker's environment (docs/llm.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from skeldir.db import one_line
from skeldir.errors import CliError
from skeldir.ops.dsn import migration_dsn
from skeldir.ops.tables import print_csv, print_table

# The implementations in skeldir/worker/llm/provider.py (PROVIDERS); named here so the CLI does
# not import the boundary module.
PROVIDER_NAMES = ("stub", "openai")


def _usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError(f"not a price: {value!r}")
    return amount


def cmd_llm_kill_switch(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(migration_dsn()) as conn:
            row = conn.execute("SELECT api.llm_kill_switch_set(%s)", [args.state == "on"]).fetchone()
    except psycopg.Error as exc:
        raise CliError(one_line(exc)) from exc
    assert row is not None
    print(f"llm kill switch is {'on: every provider call is blocked' if row[0] else 'off'}")
    return 0


def cmd_llm_model_set(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(migration_dsn()) as conn:
            conn.execute(
                "SELECT api.llm_model_set(%s, %s, %s, %s, %s)",
                [args.name, args.provider, args.input_usd_per_mtok, args.output_usd_per_mtok, args.cheaper_model],
            )
    except psycopg.Error as exc:
        raise CliError(one_line(exc)) from exc
    route = f"; under budget pressure: {args.cheaper_model}" if args.cheaper_model else ""
    print(
        f"model {args.name}: provider {args.provider}, {args.input_usd_per_mtok} / {args.output_usd_per_mtok}"
        f" USD per million input / output tokens{route}"
    )
    return 0


def cmd_llm_model_list(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(migration_dsn()) as conn:
            cur = conn.execute(
                "SELECT model, provider, trim_scale(input_usd_per_mtok) AS input_usd_per_mtok,"
                " trim_scale(output_usd_per_mtok) AS output_usd_per_mtok, cheaper_model, is_default"
                " FROM api.llm_models ORDER BY provider, model"
            )
            columns = [d.name for d in cur.description or []]
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise CliError(one_line(exc)) from exc
    (print_csv if args.csv else print_table)(columns, rows)
    return 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Adds ``skeldir llm``: kill-switch, model set, model list (called by cli.build_parser)."""
    llm = sub.add_parser("llm", help="LLM boundary controls").add_subparsers(
        dest="llm_command", required=True, metavar="ACTION"
    )
    p = add(llm, "kill-switch", cmd_llm_kill_switch, "turn every LLM provider call off (on) or back on (off)")
    p.add_argument("state", choices=["on", "off"])
    model = llm.add_parser("model", help="LLM models: provider, prices, cheaper model").add_subparsers(
        dest="llm_model_command", required=True, metavar="ACTION"
    )
    p = add(model, "set", cmd_llm_model_set, "register or replace a model: provider, USD per million tokens")
    p.add_argument("name", help="the provider's model name, e.g. gpt-4o-mini")
    p.add_argument("--provider", required=True, choices=PROVIDER_NAMES, help="implementation that serves it")
    p.add_argument("--input-usd-per-mtok", required=True, type=_usd, help="USD per million input tokens")
    p.add_argument("--output-usd-per-mtok", required=True, type=_usd, help="USD per million output tokens")
    p.add_argument(
        "--cheaper-model",
        help="registered model to route to once a tenant's month-to-date spend passes the budget-pressure"
        " share of its budget (omitted: none)",
    )
    p = add(model, "list", cmd_llm_model_list, "registered models, their providers, prices and cheaper models")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
