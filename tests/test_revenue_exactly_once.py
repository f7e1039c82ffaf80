"""Revenue exactly once (SPEC §5): the vendors' real send patterns, through the real shell.

Each test is one row of the table that showed the ledger double-counting and missing revenue:
several event types describing one payment, cumulative refund amounts, a paid order that never
reaches "completed", an order document listing several refunds, one event delivered under two
webhook ids. The ledger (api.events, per kind) must equal the truth; the last test reads the
same truth back from /api/revenue/daily after the worker.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from vendor_signers import Delivery, Sender, sender

from support import Database, WorkerProcess, as_tenant, wait_for


def post(d: Delivery) -> dict:
    response = httpx.post(d.url, content=d.body, headers=d.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


# Every document happens today (UTC), so one read of /api/revenue/daily (at most 366 days) sees all.
TODAY = dt.datetime.now(dt.UTC).date()
AT = f"{TODAY.isoformat()}T00:15:00"


def ledger(main_db: Database, tenant: dict) -> dict[str, int]:
    rows = as_tenant(main_db.app, tenant["tenant_id"], "SELECT kind, sum(amount_minor) FROM api.events GROUP BY kind")
    return {kind: int(total) for kind, total in rows}


# -- the vendors' documents --------------------------------------------------------------


def stripe_event(kind: str, obj: dict) -> dict:
    return {"id": f"evt_{time.time_ns()}", "type": kind, "created": int(time.time()), "data": {"object": obj}}


def stripe_payment(pi: str, ch: str, amount: int) -> list[dict]:
    """One payment as Stripe sends it to a merchant subscribed to both event types."""
    intent = {"id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": "usd",
              "status": "succeeded", "metadata": {"order_id": "so-1"}}  # fmt: skip
    charge = {"id": ch, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
              "currency": "usd", "payment_intent": pi, "status": "succeeded", "paid": True,
              "metadata": {"order_id": "so-1"}}  # fmt: skip
    return [stripe_event("payment_intent.succeeded", intent), stripe_event("charge.succeeded", charge)]


def stripe_refunded(pi: str, ch: str, amount: int, refunded: int) -> dict:
    """charge.refunded: the charge as it is now, amount_refunded cumulative (API 2022-11-15+: no list)."""
    charge = {"id": ch, "object": "charge", "amount": amount, "amount_captured": amount,
              "amount_refunded": refunded, "currency": "usd", "payment_intent": pi, "status": "succeeded",
              "refunded": refunded == amount}  # fmt: skip
    return stripe_event("charge.refunded", charge)


def woo_order(order_id: int, status: str, total: str, paid: bool, refunds: list[dict] | None = None) -> dict:
    return {
        "id": order_id,
        "status": status,
        "currency": "USD",
        "total": total,
        "date_created_gmt": AT,
        "date_modified_gmt": AT,
        "date_paid_gmt": AT if paid else None,
        "date_completed_gmt": AT if status == "completed" else None,
        "transaction_id": f"txn-{order_id}",
        "billing": {"email": "ana@example.com"},
        "meta_data": [],
        "refunds": refunds or [],
    }


def shopify_order(order_id: int, total: str, financial_status: str) -> dict:
    return {
        "id": order_id,
        "email": "jon@example.com",
        "created_at": AT + "Z",
        "processed_at": AT + "Z",
        "currency": "USD",
        "total_price": total,
        "financial_status": financial_status,
        "source_name": "web",
        "refunds": [],
    }


# -- the scenarios -------------------------------------------------------------------------


def stripe_one_payment_two_event_types(s: Sender, reverse: bool) -> list[Delivery]:
    events = stripe_payment(f"pi_{time.time_ns()}", f"ch_{time.time_ns()}", 15000)
    return [s.deliver(e) for e in (reversed(events) if reverse else events)]


def stripe_cumulative_refunds(s: Sender) -> list[Delivery]:
    a = (f"pi_a{time.time_ns()}", f"ch_a{time.time_ns()}")
    b = (f"pi_b{time.time_ns()}", f"ch_b{time.time_ns()}")
    return [
        s.deliver(stripe_refunded(*a, 5000, 1000)),
        s.deliver(stripe_refunded(*a, 5000, 2500)),
        s.deliver(stripe_refunded(*b, 5000, 3000)),  # the later state arrives first
        s.deliver(stripe_refunded(*b, 5000, 1000)),
    ]


def woo_paid_orders(s: Sender, base: int) -> list[Delivery]:
    return [
        s.deliver(woo_order(base + 1, "processing", "40.00", paid=True), topic="order.created"),  # never completed
        s.deliver(woo_order(base + 2, "processing", "50.00", paid=True), topic="order.created"),
        s.deliver(woo_order(base + 2, "completed", "50.00", paid=True), topic="order.updated"),
    ]


def woo_two_refunds_in_one_delivery(s: Sender, base: int) -> list[Delivery]:
    refunds = [{"id": base + 902, "reason": "", "total": "-10.00"}, {"id": base + 901, "reason": "", "total": "-5.00"}]
    return [s.deliver(woo_order(base + 2, "completed", "50.00", paid=True, refunds=refunds), topic="order.updated")]


def shopify_two_subscriptions(s: Sender, order_id: int) -> list[Delivery]:
    doc = shopify_order(order_id, "80.00", "pending")
    return [s.deliver(doc, topic="orders/create"), s.deliver(doc, topic="orders/create")]  # two webhook ids


def shopify_paid(s: Sender, order_id: int) -> list[Delivery]:
    return [s.deliver(shopify_order(order_id, "80.00", "paid"), topic="orders/paid")]


@pytest.fixture
def senders(new_tenant, main_db: Database) -> Callable[[str], tuple[dict, dict[str, Sender]]]:
    def make(name: str) -> tuple[dict, dict[str, Sender]]:
        tenant = new_tenant(name)
        return tenant, {v: sender(v, tenant, main_db.migration) for v in ("stripe", "woocommerce", "shopify")}

    return make


@pytest.mark.parametrize("reverse", [False, True], ids=["intent_first", "charge_first"])
def test_stripe_payment_sent_as_payment_intent_and_charge_counts_once(senders, main_db: Database, reverse) -> None:
    tenant, s = senders("Stripe both")
    answers = [post(d) for d in stripe_one_payment_two_event_types(s["stripe"], reverse)]
    assert [a["status"] for a in answers] == ["accepted", "duplicate"]
    assert answers[1]["event_id"] == answers[0]["event_id"]
    assert ledger(main_db, tenant) == {"payment": 15000}


def test_stripe_cumulative_refunds_record_the_maximum_seen_in_any_order(senders, main_db: Database) -> None:
    tenant, s = senders("Stripe refunds")
    deliveries = stripe_cumulative_refunds(s["stripe"])
    assert [post(d)["status"] for d in deliveries] == ["accepted", "accepted", "accepted", "duplicate"]
    assert [post(d)["status"] for d in deliveries] == ["duplicate"] * 4  # Stripe's redeliveries
    assert ledger(main_db, tenant) == {"refund": -5500}


def test_woocommerce_order_counts_once_when_paid_whether_or_not_completed(senders, main_db: Database) -> None:
    tenant, s = senders("Woo paid")
    answers = [post(d)["status"] for d in woo_paid_orders(s["woocommerce"], 7000)]
    assert answers == ["accepted", "accepted", "duplicate"]
    assert ledger(main_db, tenant) == {"order": 9000}


def test_woocommerce_delivery_listing_two_refunds_records_both(senders, main_db: Database) -> None:
    tenant, s = senders("Woo refunds")
    for d in woo_paid_orders(s["woocommerce"], 7100):
        post(d)
    [d] = woo_two_refunds_in_one_delivery(s["woocommerce"], 7100)
    answer = post(d)
    assert answer["status"] == "accepted" and len(answer["event_ids"]) == 2, answer
    assert post(d)["status"] == "duplicate"  # every save resends the whole order
    assert ledger(main_db, tenant) == {"order": 9000, "refund": -1500}


def test_shopify_order_delivered_under_two_webhook_ids_counts_once(senders, main_db: Database) -> None:
    tenant, s = senders("Shopify twice")
    answers = [post(d) for d in shopify_two_subscriptions(s["shopify"], 5_000_000_000_000_001)]
    assert [a["status"] for a in answers] == ["accepted", "duplicate"]
    assert ledger(main_db, tenant) == {"order": 8000}


def test_shopify_orders_paid_records_the_payment_once(senders, main_db: Database) -> None:
    tenant, s = senders("Shopify paid")
    order = 5_000_000_000_000_002
    [paid] = shopify_paid(s["shopify"], order)
    assert post(paid)["status"] == "accepted"
    assert post(s["shopify"].deliver(paid.body, topic="orders/paid"))["status"] == "duplicate"  # second subscription
    assert ledger(main_db, tenant) == {"order": 8000, "payment": 8000}


def test_revenue_daily_reads_back_the_truth_of_every_scenario(
    senders, main_db: Database, shell: str, worker: WorkerProcess
) -> None:
    tenant, s = senders("All vendors")
    order = 5_000_000_000_000_003
    deliveries = [
        *stripe_one_payment_two_event_types(s["stripe"], reverse=False),
        *stripe_cumulative_refunds(s["stripe"]),
        *woo_paid_orders(s["woocommerce"], 7200),
        *woo_two_refunds_in_one_delivery(s["woocommerce"], 7200),
        *shopify_two_subscriptions(s["shopify"], order),
        *shopify_paid(s["shopify"], order),
    ]
    for d in deliveries:
        post(d)
    truth = {"payment_minor": 23000, "refund_minor": -7000, "order_minor": 17000}

    def daily() -> dict[str, int]:
        items = httpx.get(
            f"{shell}/api/revenue/daily",
            params={"from": (TODAY - dt.timedelta(days=2)).isoformat(), "to": TODAY.isoformat(), "limit": "1000"},
            headers={"X-Skeldir-Tenant-Key": tenant["api_key"]},
            timeout=10,
        ).json()["items"]
        totals: Counter[str] = Counter()
        for item in items:
            for k in truth:
                totals[k] += int(item[k])
        return dict(totals)

    wait_for(lambda: daily() == truth, timeout=60)
    assert ledger(main_db, tenant) == {"payment": 23000, "refund": -7000, "order": 17000}
