"""Issue 3, per vendor through the real shell: accepted, duplicate, dead-lettered, tampered,
wrong secret, rotated secret within and after its window. Signers: tests/vendor_signers.py."""

from __future__ import annotations

import secrets

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
