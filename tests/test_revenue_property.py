"""Revenue exactly once, by models (SPEC §5): any mix, any order, any redelivery.

For each vendor a model of one merchant account (orders, payments, partial refunds) generates
the event stream the vendor really sends: a random subset of the topics the merchant may
subscribe to, reordered, with redeliveries, and with deliveries lost when a later delivery
carries their state. Every delivery goes through the ingest path (skeldir._ingest_document,
the mapping and dedupe every route ends in; signatures are proven elsewhere), the worker's SQL
side allocates every new fact, and then the ledger (api.events) and the allocations must equal
the model's totals exactly, per kind. Hypothesis runs a fixed seed in CI
(HYPOTHESIS_PROFILE=explore for new examples).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import Database

KINDS = ("order", "payment", "refund")
_serial = itertools.count(1)


@dataclass
class Order:
    amount: int  # minor units
    paid: bool
    refunds: list[int]  # partial refunds, in the order they happen
    id: int = field(default_factory=lambda: next(_serial))


@dataclass
class Delivery:
    headers: dict
    doc: dict
    carries_later_state: bool = False  # may be lost: a later delivery of the stream carries its state


@dataclass
class Stream:
    deliveries: list[Delivery]
    truth: dict[str, int]


@st.composite
def accounts(draw: st.DrawFn) -> list[Order]:
    orders = []
    for _ in range(draw(st.integers(1, 4))):
        amount = draw(st.integers(100, 100_000))
        paid = draw(st.booleans())
        refunds: list[int] = []
        left = amount
        for _ in range(draw(st.integers(0, 3)) if paid else 0):
            if left <= 1:
                break
            r = draw(st.integers(1, left - 1))
            refunds.append(r)
            left -= r
        orders.append(Order(amount, paid, refunds))
    return orders


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


# -- what each vendor sends -----------------------------------------------------------------


def stripe_stream(account: list[Order], topics: frozenset[str], listed: bool) -> Stream:
    out: list[Delivery] = []
    truth = dict.fromkeys(KINDS, 0)
    for o in account:
        if not o.paid:
            continue
        pi, ch = f"pi_{o.id}", f"ch_{o.id}"
        obj = {"amount": o.amount, "currency": "usd", "metadata": {"order_id": str(o.id)}}
        if "payment_intent.succeeded" in topics:
            out.append(stripe("payment_intent.succeeded", {**obj, "id": pi, "amount_received": o.amount}))
        if "charge.succeeded" in topics:
            out.append(stripe("charge.succeeded", {**obj, "id": ch, "payment_intent": pi}))
        if topics & {"payment_intent.succeeded", "charge.succeeded"}:
            truth["payment"] += o.amount
        if "charge.refunded" not in topics:
            continue
        done: list[dict] = []
        for n, r in enumerate(o.refunds):
            done.append({"id": f"re_{o.id}_{n}", "amount": r, "created": n, "status": "succeeded"})
            charge = {**obj, "id": ch, "payment_intent": pi, "amount_refunded": sum(x["amount"] for x in done)}
            if listed:  # API versions before 2022-11-15 list the charge's refunds, newest first
                charge["refunds"] = {"object": "list", "data": list(reversed(done)), "has_more": False}
            out.append(stripe("charge.refunded", charge, carries_later_state=n < len(o.refunds) - 1))
        truth["refund"] -= sum(o.refunds)
    return Stream(out, truth)


def stripe(kind: str, obj: dict, carries_later_state: bool = False) -> Delivery:
    doc = {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "created": 1_700_000_000, "data": {"object": obj}}
    return Delivery({}, doc, carries_later_state)


def shopify_stream(account: list[Order], topics: frozenset[str]) -> Stream:
    out: list[Delivery] = []
    truth = dict.fromkeys(KINDS, 0)
    order_topics = topics & {"orders/create", "orders/updated", "orders/paid"}
    for o in account:
        oid = 9_007_199_254_740_993 + o.id  # beyond 2^53
        base = {"id": oid, "currency": "USD", "total_price": money(o.amount), "created_at": "2024-03-01T10:00:00Z"}
        refunds: list[dict] = []

        def doc(status: str) -> dict:
            return {**base, "financial_status": status, "refunds": list(refunds)}  # noqa: B023

        updates: list[Delivery] = []
        if "orders/create" in topics:
            out.append(shopify("orders/create", doc("pending")))
        if "orders/updated" in topics:
            updates.append(shopify("orders/updated", doc("pending")))
        if o.paid:
            if "orders/paid" in topics:
                out.append(shopify("orders/paid", doc("paid")))
            if "orders/updated" in topics:
                updates.append(shopify("orders/updated", doc("paid")))
            if topics & {"orders/paid", "orders/updated"}:
                truth["payment"] += o.amount
        for n, r in enumerate(o.refunds):
            refund = {"id": o.id * 100 + n, "order_id": oid, "created_at": "2024-03-02T10:00:00Z",
                      "transactions": [{"kind": "refund", "status": "success", "amount": money(r),
                                        "currency": "USD", "parent_id": o.id}]}  # fmt: skip
            refunds.append(refund)
            if "refunds/create" in topics:
                out.append(shopify("refunds/create", refund))
            if "orders/updated" in topics:
                updates.append(shopify("orders/updated", doc("partially_refunded")))
            if topics & {"refunds/create", "orders/updated"}:
                truth["refund"] -= r
        for u in updates[:-1]:
            u.carries_later_state = o.paid or bool(o.refunds)  # the last update shows paid and every refund
        out.extend(updates)
        if order_topics:
            truth["order"] += o.amount
    return Stream(out, truth)


def shopify(topic: str, doc: dict) -> Delivery:
    return Delivery({"x-shopify-topic": topic, "x-shopify-webhook-id": uuid.uuid4().hex}, json.loads(json.dumps(doc)))


def woocommerce_stream(account: list[Order]) -> Stream:
    out: list[Delivery] = []
    truth = dict.fromkeys(KINDS, 0)
    for o in account:
        refunds: list[dict] = []
        paid_at: str | None = None

        def doc(status: str) -> dict:
            return {"id": o.id, "status": status, "currency": "USD", "total": money(o.amount),  # noqa: B023
                    "date_created_gmt": "2024-03-01T09:00:00", "date_modified_gmt": "2024-03-01T10:00:00",
                    "date_paid_gmt": paid_at, "refunds": list(reversed(refunds))}  # noqa: B023  # fmt: skip

        stream = [woo("order.created", doc("pending"))]
        if o.paid:
            paid_at = "2024-03-01T09:05:00"
            truth["order"] += o.amount
            stream.append(woo("order.updated", doc("processing")))
            for n, r in enumerate(o.refunds):
                refunds.append({"id": o.id * 100 + n, "reason": "", "total": f"-{money(r)}"})
                truth["refund"] -= r
                stream.append(woo("order.updated", doc("processing")))
            stream.append(woo("order.updated", doc("completed" if not o.refunds else "refunded")))
        for d in stream[1:-1]:
            d.carries_later_state = True  # every save resends the whole order
        out.extend(stream)
    return Stream(out, truth)


def woo(topic: str, doc: dict) -> Delivery:
    return Delivery({"x-wc-webhook-topic": topic, "x-wc-webhook-delivery-id": uuid.uuid4().hex}, doc)


def paypal_stream(account: list[Order]) -> Stream:
    out: list[Delivery] = []
    truth = dict.fromkeys(KINDS, 0)
    for o in account:
        if not o.paid:
            continue
        cap = f"CAP{o.id}"
        amount = {"value": money(o.amount), "currency_code": "USD"}
        out.append(paypal("PAYMENT.CAPTURE.COMPLETED", {"id": cap, "amount": amount}))
        truth["payment"] += o.amount
        for n, r in enumerate(o.refunds):
            link = {"rel": "up", "href": f"https://api.paypal.com/v2/payments/captures/{cap}"}
            amount = {"value": money(r), "currency_code": "USD"}
            out.append(paypal("PAYMENT.CAPTURE.REFUNDED", {"id": f"RF{o.id}_{n}", "links": [link], "amount": amount}))
            truth["refund"] -= r
    return Stream(out, truth)


def paypal(kind: str, resource: dict) -> Delivery:
    doc = {"id": f"WH-{uuid.uuid4().hex}", "event_type": kind, "create_time": "2024-03-01T10:00:00Z",
           "resource": resource}  # fmt: skip
    return Delivery({}, doc)


def standard_stream(account: list[Order]) -> Stream:
    out: list[Delivery] = []
    truth = dict.fromkeys(KINDS, 0)
    for o in account:
        base = {"currency": "USD", "occurred_at": "2024-03-01T10:00:00Z", "order_ref": str(o.id)}
        out.append(standard({**base, "type": "order.created", "amount": money(o.amount)}))
        truth["order"] += o.amount
        if o.paid:
            out.append(standard({**base, "type": "payment.succeeded", "amount": money(o.amount),
                                 "payment_ref": f"p{o.id}"}))  # fmt: skip
            truth["payment"] += o.amount
        for n, r in enumerate(o.refunds):
            out.append(standard({**base, "type": "refund.created", "amount": money(r), "refund_ref": f"r{o.id}_{n}"}))
            truth["refund"] -= r
    return Stream(out, truth)


def standard(doc: dict) -> Delivery:
    return Delivery({"webhook-id": f"msg_{uuid.uuid4().hex}"}, doc)


# -- the database side ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ledger_db(cluster) -> Iterator[Database]:
    """A private database for the module: no session worker drains its queues."""
    from skeldir.ops.cluster import TEMPLATE_DATABASE

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DATABASE}')
    yield Database(name, cluster.admin_dsn(name), cluster.dsn("migration_owner", name), cluster.dsn("app_user", name))
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run(db: Database, vendor: str, deliveries: list[Delivery]) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """Ingests the deliveries under a new tenant, runs the allocate tasks; returns ledger, allocations, answers."""
    with psycopg.connect(db.migration, autocommit=True) as conn:
        tenant = conn.execute("SELECT tenant_id FROM api.tenant_create(%s)", [f"model {uuid.uuid4().hex[:8]}"])
        tenant_id = str(tenant.fetchone()[0])  # type: ignore[index]
        answers = []
        with conn.transaction():
            conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [tenant_id])
            for d in deliveries:
                row = conn.execute(
                    "SELECT response FROM skeldir._ingest_document(%s, %s, 'model', %s, %s, '\\x00', 1)",
                    [tenant_id, vendor, json.dumps(d.headers), json.dumps(d.doc)],
                ).fetchone()
                answers.append(json.loads(row[0])["status"])  # type: ignore[index]
    with psycopg.connect(db.app, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM api.task_run_batch('attribution', 500)").fetchone()[0]:  # type: ignore[index]
            pass
        conn.execute("SELECT api.tenant_set(%s)", [tenant_id])
        with conn.transaction():
            conn.execute("SELECT api.tenant_set(%s)", [tenant_id])
            ledger = dict(conn.execute("SELECT kind, sum(amount_minor)::bigint FROM api.events GROUP BY kind"))
            allocated = dict(
                conn.execute(
                    """SELECT e.kind, sum(a.amount_minor)::bigint FROM api.allocations AS a
                         JOIN api.events AS e ON e.event_id = a.event_id GROUP BY e.kind"""
                )
            )
    return ledger, allocated, answers


def check(db: Database, vendor: str, stream: Stream, data: st.DataObject) -> None:
    deliveries = [d for d in stream.deliveries if not (d.carries_later_state and data.draw(st.booleans()))]
    deliveries += data.draw(st.lists(st.sampled_from(deliveries), max_size=4)) if deliveries else []  # redeliveries
    deliveries = data.draw(st.permutations(deliveries))
    ledger, allocated, answers = run(db, vendor, deliveries)
    expected = {k: v for k, v in stream.truth.items() if v}
    assert {k: v for k, v in ledger.items() if v} == expected, answers
    assert {k: v for k, v in allocated.items() if v} == expected, "allocations follow the facts"
    assert "dead_lettered" not in answers


PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
subsets = st.sets  # of topics, at least one


@PROPERTY
@given(
    account=accounts(),
    topics=subsets(st.sampled_from(["payment_intent.succeeded", "charge.succeeded", "charge.refunded"]), min_size=1),
    listed=st.booleans(),
    data=st.data(),
)
def test_stripe_ledger_equals_the_account_for_any_subscription_order_and_redelivery(
    ledger_db, account, topics, listed, data
) -> None:
    check(ledger_db, "stripe", stripe_stream(account, frozenset(topics), listed), data)


@PROPERTY
@given(
    account=accounts(),
    topics=subsets(st.sampled_from(["orders/create", "orders/updated", "orders/paid", "refunds/create"]), min_size=1),
    data=st.data(),
)
def test_shopify_ledger_equals_the_account_for_any_subscription_order_and_redelivery(
    ledger_db, account, topics, data
) -> None:
    check(ledger_db, "shopify", shopify_stream(account, frozenset(topics)), data)


@PROPERTY
@given(account=accounts(), data=st.data())
def test_woocommerce_ledger_equals_the_account_whatever_saves_are_lost_or_repeated(ledger_db, account, data) -> None:
    check(ledger_db, "woocommerce", woocommerce_stream(account), data)


@PROPERTY
@given(account=accounts(), data=st.data())
def test_paypal_ledger_equals_the_account_in_any_order_with_redelivery(ledger_db, account, data) -> None:
    check(ledger_db, "paypal", paypal_stream(account), data)


@PROPERTY
@given(account=accounts(), data=st.data())
def test_standard_ledger_equals_the_account_in_any_order_with_redelivery(ledger_db, account, data) -> None:
    check(ledger_db, "standard", standard_stream(account), data)


def test_concurrent_cumulative_refunds_of_one_payment_record_the_maximum_not_the_sum(ledger_db) -> None:
    """Two sessions: the second waits for the first's refund level instead of counting it again."""
    with psycopg.connect(ledger_db.migration, autocommit=True) as conn:
        tenant = conn.execute("SELECT tenant_id FROM api.tenant_create('concurrent refunds')").fetchone()
    tenant_id = str(tenant[0])  # type: ignore[index]
    obj = {"id": "ch_c", "payment_intent": "pi_c", "amount": 5000, "currency": "usd"}
    first = stripe("charge.refunded", {**obj, "amount_refunded": 1000})
    second = stripe("charge.refunded", {**obj, "amount_refunded": 2500})
    ingest = "SELECT response FROM skeldir._ingest_document(%s, 'stripe', 'model', '{}', %s, '\\x00', 1)"
    with psycopg.connect(ledger_db.migration) as a, psycopg.connect(ledger_db.migration) as b:
        for c in (a, b):
            c.execute("SELECT set_config('app.current_tenant_id', %s, false)", [tenant_id])
        a.execute(ingest, [tenant_id, json.dumps(first.doc)])  # not committed yet
        b.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):  # b waits for a's level, it does not race it
            b.execute(ingest, [tenant_id, json.dumps(second.doc)])
        b.rollback()  # which also undoes its set_config
        b.execute("SELECT set_config('app.current_tenant_id', %s, false)", [tenant_id])
        a.commit()
        b.execute(ingest, [tenant_id, json.dumps(second.doc)])
        b.commit()
        total = b.execute("SELECT sum(amount_minor) FROM skeldir.attribution_events WHERE payment_ref = 'pi_c'")
        assert total.fetchone()[0] == -2500  # type: ignore[index]
