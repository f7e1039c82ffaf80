"""Set-based writes per batch (issue 21, lever 2): batches answer and store as single calls in batch order."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skeldir.ops import admin
from skeldir.tools.loadtest import ENDPOINT_ROUTE, Mix, build_deliveries
from support import Database

SINGLE = "SELECT http_status, outcome, response, NULL::text FROM api.webhook_receive(%s, %s, %s, %s, %s)"
BATCH = (
    "SELECT http_status, outcome, response, error_sqlstate"
    " FROM api.webhook_receive_batch(%s::text[], %s::text[], %s::jsonb[], %s::bytea[], %s::text[]) ORDER BY ord"
)
# What a run leaves behind, ids replaced by what they identify (each run draws new ids).
STORED = """
SELECT (SELECT coalesce(jsonb_agg(to_jsonb(e) - 'id' - 'received_at' ORDER BY e.tenant_id, e.vendor, e.fact_key), '[]')
          FROM skeldir.attribution_events AS e WHERE e.tenant_id = ANY (%(tenants)s)),
       (SELECT coalesce(jsonb_agg(jsonb_build_array(e.tenant_id, e.vendor, e.fact_key, q.message - 'event_id')
                                  ORDER BY e.tenant_id, e.vendor, e.fact_key), '[]')
          FROM pgmq.q_attribution AS q JOIN skeldir.attribution_events AS e ON e.id = (q.message ->> 'event_id')::bigint
         WHERE e.tenant_id = ANY (%(tenants)s)),
       (SELECT coalesce(jsonb_agg(to_jsonb(d) - 'id' - 'received_at' ORDER BY d.tenant_id, d.body_sha256), '[]')
          FROM skeldir.dead_letters AS d WHERE d.tenant_id = ANY (%(tenants)s)),
       (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.tenant_id, c.vendor, c.outcome), '[]')
          FROM skeldir.ingest_counters AS c WHERE c.tenant_id = ANY (%(tenants)s))
"""
FACT = "SELECT tenant_id::text, vendor, fact_key FROM skeldir.attribution_events WHERE id = %s"
DEAD = "SELECT reason FROM skeldir.dead_letters WHERE id = %s"


def as_args(deliveries: list) -> list[tuple[str, str, Jsonb, bytes, str]]:
    """The shell's call arguments for each delivery (endpoint-token route, lower-cased headers)."""
    out = []
    for d in deliveries:
        headers = {k.lower(): v for k, v in d.headers.items()}
        headers["content-length"] = str(len(d.body))
        out.append((d.vendor, ENDPOINT_ROUTE, Jsonb(headers), d.body, d.path.rsplit("/", 1)[1]))
    return out


def named(conn: psycopg.Connection, answer: tuple) -> tuple:
    """An answer with its event ids replaced by the facts they name and its dead letter by its reason."""
    status, outcome, response, sqlstate = answer
    body: dict[str, Any] = json.loads(response) if response else {}
    if "event_id" in body:
        body["event_id"] = conn.execute(FACT, [body["event_id"]]).fetchone()
    if "event_ids" in body:
        body["event_ids"] = [conn.execute(FACT, [i]).fetchone() for i in body["event_ids"]]
    if "dead_event_id" in body:
        body["dead_event_id"] = conn.execute(DEAD, [body["dead_event_id"]]).fetchone()
    return status, outcome, body, sqlstate


def run(conn: psycopg.Connection, args: list, size: int | None, tenants: list[str]) -> tuple[list, tuple]:
    """Answers and stored rows of the deliveries, one call each (size None) or in batches; then undone."""
    conn.execute("SET ROLE app_user")
    if size is None:
        answers = [conn.execute(SINGLE, list(a)).fetchone() for a in args]
    else:
        answers = []
        for i in range(0, len(args), size):
            columns = [list(col) for col in zip(*args[i : i + size], strict=True)]
            answers += conn.execute(BATCH, columns).fetchall()
    conn.execute("RESET ROLE")
    result = [named(conn, a) for a in answers], conn.execute(STORED, {"tenants": tenants}).fetchone()
    conn.rollback()
    return result


def test_batches_of_the_load_generators_mix_answer_and_store_as_single_calls_in_batch_order(clone: Database) -> None:
    tenants = [admin.tenant_create(clone.migration, f"Set-based {i}", "http://x") for i in range(3)]
    ids = [t["tenant_id"] for t in tenants]
    # Many duplicates, so that batches hold redeliveries of their own members and of earlier batches.
    deliveries = build_deliveries(
        tenants, ["stripe", "shopify", "woocommerce", "standard"], 240, Mix(0.5, 0.35, 0.15), seed=21
    )
    args = as_args(deliveries)
    resent = sum(len(args[i : i + 8]) - len({a[3] for a in args[i : i + 8]}) for i in range(0, len(args), 8))
    assert resent > 0, "some batches of 8 hold a redelivery of their own member"
    with psycopg.connect(clone.admin) as conn:
        single = run(conn, args, None, ids)
        outcomes = {a[1] for a in single[0]}
        assert {"accepted", "duplicate", "dead_lettered"} <= outcomes, "the mix is not vacuous"
        for size in (8, 32):
            batched = run(conn, args, size, ids)
            assert batched[0] == single[0], f"answers in batches of {size}"
            assert batched[1] == single[1], f"stored rows in batches of {size}"
