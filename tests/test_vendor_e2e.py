"""Issue 3, per vendor through the real shell: accepted, duplicate, dead-lettered, tampered,
wrong secret, rotated secret within and after its window. Signers: tests/vendor_signers.py."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from vendor_signers import Delivery, Sender, paypal_key, sender

from support import Database, as_tenant, wait_for

VENDORS = ["stripe", "shopify", "woocommerce", "paypal", "standard"]

# Per vendor: how to break a valid sample so that it must be dead-lettered, and the reason.
BREAK = {
    "stripe": (lambda d: d["data"]["object"].pop("currency"), "missing_field:data.object.currency"),
    "shopify": (lambda d: d.pop("total_price"), "missing_field:total_price"),
    "woocommerce": (lambda d: d.update(total="49.901"), "bad_amount"),
    "paypal": (lambda d: d["resource"]["amount"].update(currency_code="XYZ"), "bad_currency"),
    "standard": (lambda d: d.update(occurred_at="yesterday"), "bad_type:occurred_at"),
}


def other_secret(vendor: str) -> object:
    return {
        "stripe": "whsec_" + secrets.token_hex(24),
        "shopify": secrets.token_hex(32),
        "woocommerce": secrets.token_hex(24),
        "paypal": paypal_key(2),
        "standard": "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B") + "AA==",
    }[vendor]


def post(d: Delivery) -> httpx.Response:
    return httpx.post(d.url, content=d.body, headers=d.headers)


def stored(main_db: Database, tenant: dict) -> tuple[int, int]:
    row = as_tenant(main_db.app, tenant["tenant_id"],
                    "SELECT (SELECT count(*) FROM api.events), (SELECT count(*) FROM api.dead_letters)")[0]  # fmt: skip
    return int(row[0]), int(row[1])


@pytest.fixture
def make_sender(new_tenant, main_db: Database):
    def make(vendor: str) -> Sender:
        return sender(vendor, new_tenant(f"{vendor} store"), main_db.migration)

    return make


@pytest.mark.parametrize("vendor", VENDORS)
def test_signed_delivery_is_accepted_and_its_redelivery_is_a_duplicate(vendor, make_sender, main_db) -> None:
    s = make_sender(vendor)
    delivery = s.deliver(s.sample())
    first = post(delivery)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted"
    again = post(delivery)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert stored(main_db, s.tenant) == (1, 0)


@pytest.mark.parametrize("vendor", VENDORS)
def test_verified_but_unmappable_delivery_is_dead_lettered_with_its_reason(vendor, make_sender, main_db) -> None:
    s = make_sender(vendor)
    doc = s.sample()
    breaker, reason = BREAK[vendor]
    breaker(doc)
    response = post(s.deliver(doc))
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "dead_lettered" and answer["reason"] == reason
    rows = as_tenant(main_db.app, s.tenant["tenant_id"], "SELECT dead_event_id, vendor, reason FROM api.dead_letters")
    assert rows == [(answer["dead_event_id"], vendor, reason)]
    assert stored(main_db, s.tenant) == (0, 1)


@pytest.mark.parametrize("vendor", VENDORS)
def test_tampered_body_is_401_and_stores_nothing(vendor, make_sender, main_db) -> None:
    s = make_sender(vendor)
    delivery = s.deliver(s.sample())
    delivery.body = delivery.body + b" "  # still the same JSON, no longer the signed bytes
    response = post(delivery)
    assert response.status_code == 401
    assert response.json() == {"status": "unauthorized"}
    assert stored(main_db, s.tenant) == (0, 0)


@pytest.mark.parametrize("vendor", VENDORS)
def test_delivery_signed_with_another_secret_is_401(vendor, make_sender, main_db) -> None:
    s = make_sender(vendor)
    response = post(s.deliver(s.sample(), secret=other_secret(vendor)))
    assert response.status_code == 401
    assert response.json() == {"status": "unauthorized"}
    assert stored(main_db, s.tenant) == (0, 0)


@pytest.mark.parametrize("vendor", VENDORS)
def test_rotated_secret_keeps_the_previous_one_valid_for_the_window_only(vendor, make_sender, main_db) -> None:
    s = make_sender(vendor)
    old = s.secret
    new_given = paypal_key(1).pem if vendor == "paypal" else None
    with psycopg.connect(main_db.migration) as conn:
        (new_secret,) = conn.execute(
            "SELECT secret_in_effect FROM api.tenant_secret_rotate(%s, %s, %s, '3 seconds')",
            [s.tenant["tenant_id"], vendor, new_given],
        ).fetchone()
    new = paypal_key(1) if vendor == "paypal" else new_secret
    assert new_secret != (old.pem if vendor == "paypal" else old)

    assert post(s.deliver(s.sample(), secret=new)).json()["status"] == "accepted"
    within = post(s.deliver(s.sample(), secret=old))
    assert within.status_code == 200, "the previous secret must keep working inside the window"
    # After the window the previous secret stops; the new one goes on working.
    wait_for(lambda: post(s.deliver(s.sample(), secret=old)).status_code == 401, timeout=15, interval=0.5)
    assert post(s.deliver(s.sample(), secret=new)).json()["status"] == "accepted"


def woo_refund(s: Sender) -> dict:
    return s.sample(refunds=[{"id": 5, "reason": "", "total": "-4.90"}])


def paypal_doc(s: Sender, event_type: str, resource: dict) -> dict:
    return s.sample(event_type=event_type, resource=resource)


# (vendor, topic, document builder, deliver() keyword arguments, stored kind, stored amount_minor)
TOPICS = [
    ("stripe", "payment_intent.succeeded", lambda s: s.sample(), {}, "payment", 2500),
    ("stripe", "charge.succeeded", lambda s: s.sample(type="charge.succeeded"), {}, "payment", 2500),
    ("stripe", "charge.refunded",
     lambda s: s.sample(type="charge.refunded", data={"object": {"id": "ch_1", "amount": 2500, "amount_refunded": 700,
                                                                  "currency": "usd"}}), {}, "refund", -700),
    ("shopify", "orders/create", lambda s: s.sample(), {"topic": "orders/create"}, "order", 19999),
    ("shopify", "orders/paid", lambda s: s.sample(), {"topic": "orders/paid"}, "order payment", 19999),
    ("shopify", "refunds/create",
     lambda s: {"id": 9, "order_id": 820982911946154508, "created_at": "2024-03-02T00:00:00Z",
                "transactions": [{"kind": "refund", "status": "success", "amount": "9.99", "currency": "USD"}]},
     {"topic": "refunds/create"}, "refund", -999),
    ("woocommerce", "order.created", lambda s: s.sample(), {"topic": "order.created"}, "order", 4990),
    ("woocommerce", "order.updated", lambda s: s.sample(), {"topic": "order.updated"}, "order", 4990),
    ("woocommerce", "order.updated refund", woo_refund, {"topic": "order.updated"}, "order refund", -490),
    ("paypal", "PAYMENT.CAPTURE.COMPLETED", lambda s: s.sample(), {}, "payment", 1050),
    ("paypal", "PAYMENT.SALE.COMPLETED", lambda s: paypal_doc(s, "PAYMENT.SALE.COMPLETED",
     {"id": "S1", "amount": {"total": "7.00", "currency": "USD"}}), {}, "payment", 700),
    ("paypal", "PAYMENT.CAPTURE.REFUNDED", lambda s: paypal_doc(s, "PAYMENT.CAPTURE.REFUNDED",
     {"id": "R1", "amount": {"value": "3.00", "currency_code": "USD"}}), {}, "refund", -300),
    ("paypal", "PAYMENT.SALE.REFUNDED", lambda s: paypal_doc(s, "PAYMENT.SALE.REFUNDED",
     {"id": "R2", "sale_id": "S1", "amount": {"total": "2.00", "currency": "USD"}}), {}, "refund", -200),
    ("standard", "order.created", lambda s: s.sample(), {}, "order", 1234),
    ("standard", "payment.succeeded", lambda s: s.sample(type="payment.succeeded", payment_ref="p1"), {},
     "payment", 1234),
    ("standard", "refund.created", lambda s: s.sample(type="refund.created"), {}, "refund", -1234),
]  # fmt: skip


@pytest.mark.parametrize(("vendor", "topic", "build", "kwargs", "kind", "minor"), TOPICS,
                         ids=[f"{t[0]}:{t[1]}" for t in TOPICS])  # fmt: skip
def test_every_topic_is_stored_once_with_its_kind_and_signed_amount(
    vendor, topic, build, kwargs, kind, minor, make_sender, main_db
) -> None:
    s = make_sender(vendor)
    delivery = s.deliver(build(s), **kwargs)
    first = post(delivery).json()
    assert first["status"] == "accepted", first
    assert post(delivery).json() == {"status": "duplicate", "event_id": first["event_id"]}
    rows = as_tenant(main_db.app, s.tenant["tenant_id"], "SELECT kind, amount_minor FROM api.events ORDER BY event_id")
    # A document that carries more than one fact (an order paid, an order with a refund) stores each once.
    assert [k for k, _ in rows] == kind.split() and rows[-1][1] == minor


@pytest.mark.parametrize("vendor", ["shopify", "standard"])
def test_concurrent_redeliveries_store_one_event_and_agree_on_its_id(vendor, make_sender, main_db) -> None:
    s = make_sender(vendor)
    delivery = s.deliver(s.sample())
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [r.json() for r in pool.map(lambda _: post(delivery), range(16))]
    assert sorted(a["status"] for a in answers) == ["accepted"] + ["duplicate"] * 15
    assert len({a["event_id"] for a in answers}) == 1
    assert stored(main_db, s.tenant) == (1, 0)
