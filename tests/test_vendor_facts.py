"""SPEC §5 "vendor facts", one test each, through the real shell with independent signers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import zlib

import httpx
import psycopg
import pytest
import stripe
from vendor_signers import Delivery, Sender, b64_hmac, sender

from support import Database, as_tenant

UTC = dt.UTC


def post(d: Delivery) -> httpx.Response:
    return httpx.post(d.url, content=d.body, headers=d.headers)


def accepted(d: Delivery) -> int:
    response = post(d)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "accepted", answer
    return int(answer["event_id"])


def event(main_db: Database, s: Sender, event_id: int) -> dict:
    with psycopg.connect(main_db.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [s.tenant["tenant_id"]])
        cur = conn.execute("SELECT * FROM api.events WHERE event_id = %s", [event_id])
        names = [c.name for c in cur.description or []]
        row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def events(main_db: Database, s: Sender) -> int:
    return int(as_tenant(main_db.app, s.tenant["tenant_id"], "SELECT count(*) FROM api.events")[0][0])


@pytest.fixture
def make(new_tenant, main_db: Database):
    def build(vendor: str) -> Sender:
        return sender(vendor, new_tenant(f"{vendor} facts"), main_db.migration)

    return build


# -- Stripe ---------------------------------------------------------------------------


def test_stripe_hmac_key_is_the_whole_whsec_string(make) -> None:
    s = make("stripe")
    body = json.dumps(s.sample()).encode()
    without_prefix = stripe.WebhookSignature.generate_signature_header(body.decode(), s.secret.removeprefix("whsec_"))
    assert post(Delivery(s.url, body, {"Stripe-Signature": without_prefix})).status_code == 401
    accepted(s.deliver(body))


def test_stripe_accepts_when_any_of_several_v1_signatures_matches(make) -> None:
    s = make("stripe")
    body = json.dumps(s.sample()).encode()
    good = stripe.WebhookSignature.generate_signature_header(body.decode(), s.secret)
    t, v1 = good.split(",")
    accepted(Delivery(s.url, body, {"Stripe-Signature": f"{t},v1={'0' * 64},{v1}"}))


def test_stripe_ignores_v0_signatures(make) -> None:
    s = make("stripe")
    body = json.dumps(s.sample()).encode()
    t, v1 = stripe.WebhookSignature.generate_signature_header(body.decode(), s.secret).split(",")
    only_v0 = f"{t},v0={v1.removeprefix('v1=')}"
    assert post(Delivery(s.url, body, {"Stripe-Signature": only_v0})).status_code == 401


def test_stripe_dedupes_on_the_evt_id_of_the_body(make, main_db) -> None:
    s = make("stripe")
    doc = s.sample()
    first = accepted(s.deliver(doc))
    doc["data"]["object"]["amount_received"] = 9999  # a different body, same event id
    again = post(s.deliver(doc)).json()
    assert again == {"status": "duplicate", "event_id": first}
    assert events(main_db, s) == 1


def test_stripe_charge_refunded_is_a_negative_refund_with_the_metadata_order(make, main_db) -> None:
    s = make("stripe")
    doc = s.sample(type="charge.refunded")
    doc["data"]["object"] = {"id": "ch_1", "payment_intent": "pi_9", "amount": 5000, "amount_refunded": 1250,
                             "currency": "jpy", "metadata": {"order_id": "A-77"}}  # fmt: skip
    e = event(main_db, s, accepted(s.deliver(doc)))
    assert (e["kind"], e["amount_minor"], e["currency"], e["order_ref"], e["payment_ref"]) == (
        "refund", -1250, "JPY", "A-77", "pi_9")  # fmt: skip


# -- Shopify --------------------------------------------------------------------------


def test_shopify_facts_key_on_the_order_not_on_the_webhook_or_shared_event_id(make, main_db) -> None:
    s = make("shopify")
    doc = s.sample()
    created = accepted(s.deliver(doc, topic="orders/create"))
    paid = accepted(s.deliver(doc, topic="orders/paid"))  # same X-Shopify-Event-Id: its payment is new
    assert created != paid
    redelivery = s.deliver(doc, key="wh-fixed", topic="orders/paid")  # another subscription's webhook id
    assert post(redelivery).json() == {"status": "duplicate", "event_id": created}
    assert post(redelivery).json()["status"] == "duplicate"
    kinds = as_tenant(main_db.app, s.tenant["tenant_id"], "SELECT kind FROM api.events ORDER BY event_id")
    assert kinds == [("order",), ("payment",)]


def test_shopify_header_names_without_x_prefix_are_accepted(make) -> None:
    s = make("shopify")
    accepted(s.deliver(s.sample(), prefix=""))


def test_shopify_order_ids_beyond_2_pow_53_and_decimal_money_stay_exact(make, main_db) -> None:
    s = make("shopify")
    body = b'{"id": 9007199254740993, "currency": "USD", "total_price": "19999999.99", ' \
           b'"created_at": "2024-03-01T10:15:00-05:00"}'  # fmt: skip
    e = event(main_db, s, accepted(s.deliver(body)))
    assert e["order_ref"] == "9007199254740993"
    assert e["amount_minor"] == 1999999999
    assert e["occurred_at"] == dt.datetime(2024, 3, 1, 15, 15, tzinfo=UTC)
    assert e["payload"]["id"] == 9007199254740993


def test_shopify_refund_sums_its_refund_transactions_negative(make, main_db) -> None:
    s = make("shopify")
    body = (b'{"id": 4, "order_id": 820982911946154509, "created_at": "2024-03-02T08:00:00Z", "transactions": ['
            b'{"id": 1, "parent_id": 77, "kind": "refund", "status": "success", "amount": "5.10", "currency": "USD"},'
            b'{"id": 2, "kind": "refund", "status": "success", "amount": "0.20", "currency": "USD"},'
            b'{"id": 3, "kind": "refund", "status": "failure", "amount": "100.00", "currency": "USD"}]}')  # fmt: skip
    e = event(main_db, s, accepted(s.deliver(body, topic="refunds/create")))
    assert (e["kind"], e["amount_minor"], e["order_ref"], e["payment_ref"]) == (
        "refund", -530, "820982911946154509", "77")  # fmt: skip


def test_shopify_attribution_from_note_attributes_landing_and_referring_site(make, main_db) -> None:
    s = make("shopify")
    e = event(main_db, s, accepted(s.deliver(s.sample())))
    assert (e["utm_source"], e["utm_medium"], e["utm_campaign"], e["referrer"]) == (
        "facebook", "social", "spring", "https://www.facebook.com/")  # fmt: skip
    doc = s.sample(note_attributes=[{"name": "utm_source", "value": "tiktok"}])  # another order
    assert event(main_db, s, accepted(s.deliver(doc)))["utm_source"] == "tiktok"


def test_shopify_unsupported_topic_is_ignored(make, main_db) -> None:
    s = make("shopify")
    response = post(s.deliver(s.sample(), topic="customers/create"))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert events(main_db, s) == 0


# -- WooCommerce ------------------------------------------------------------------------


def test_woocommerce_secret_is_html_entity_decoded_before_signing(make, main_db) -> None:
    s = make("woocommerce")
    with psycopg.connect(main_db.migration) as conn:
        conn.execute("SELECT api.tenant_secret_set(%s, 'woocommerce', 's3cr&amp;t&lt;key')", [s.tenant["tenant_id"]])
    # WordPress signs with wp_specialchars_decode(secret): the key is s3cr&t<key.
    body = json.dumps(s.sample()).encode()
    headers = {"X-WC-Webhook-Signature": b64_hmac(b"s3cr&t<key", body), "X-WC-Webhook-Topic": "order.updated"}
    accepted(Delivery(s.url, body, headers))
    encoded_key = {**headers, "X-WC-Webhook-Signature": b64_hmac(b"s3cr&amp;t&lt;key", body)}
    assert post(Delivery(s.url, body, encoded_key)).status_code == 401


def test_woocommerce_creation_ping_gets_a_plain_200_and_is_not_processed(make, main_db) -> None:
    s = make("woocommerce")
    response = httpx.post(s.url, content=b"webhook_id=42",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 200
    assert response.json() == {"status": "ping"}
    counts = as_tenant(
        main_db.migration,
        s.tenant["tenant_id"],
        "SELECT (SELECT count(*) FROM skeldir.attribution_events), "
        "(SELECT count(*) FROM skeldir.dead_letters), (SELECT count(*) FROM skeldir.ingest_counters)",
    )
    assert counts == [(0, 0, 0)]  # fmt: skip


def test_woocommerce_repeated_delivery_id_does_not_merge_different_orders(make, main_db) -> None:
    s = make("woocommerce")
    accepted(s.deliver(s.sample(id=1001), key="delivery-1"))
    accepted(s.deliver(s.sample(id=1002), key="delivery-1"))
    assert events(main_db, s) == 2


def test_woocommerce_resave_of_a_completed_order_is_a_duplicate_not_new_revenue(make, main_db) -> None:
    s = make("woocommerce")
    first = accepted(s.deliver(s.sample(id=2001), topic="order.created"))
    resaved = s.sample(id=2001, date_modified_gmt="2024-03-05T12:00:00")
    assert post(s.deliver(resaved)).json() == {"status": "duplicate", "event_id": first}
    assert events(main_db, s) == 1


def test_woocommerce_refund_arrives_as_order_updated_with_negative_total(make, main_db) -> None:
    s = make("woocommerce")
    doc = s.sample(id=3001, refunds=[{"id": 91, "reason": "", "total": "-5.00"}],
                   date_modified_gmt="2024-03-06T23:30:00")  # fmt: skip
    answer = post(s.deliver(doc)).json()
    assert answer["status"] == "accepted" and len(answer["event_ids"]) == 2, answer  # the order and its refund
    e = event(main_db, s, answer["event_ids"][1])
    assert (e["kind"], e["amount_minor"], e["currency"], e["order_ref"]) == ("refund", -500, "EUR", "3001")
    assert e["occurred_at"] == dt.datetime(2024, 3, 6, 23, 30, tzinfo=UTC)  # _gmt without offset is UTC


def test_woocommerce_attribution_comes_from_order_attribution_meta(make, main_db) -> None:
    s = make("woocommerce")
    e = event(main_db, s, accepted(s.deliver(s.sample())))
    assert (e["utm_source"], e["utm_medium"]) == ("newsletter", "email")


def test_woocommerce_order_not_yet_paid_is_ignored(make, main_db) -> None:
    s = make("woocommerce")
    for status in ("pending", "on-hold", "failed"):
        assert post(s.deliver(s.sample(status=status, date_completed_gmt=None))).json()["status"] == "ignored"
    assert events(main_db, s) == 0


def test_woocommerce_order_is_revenue_once_paid_even_if_never_completed(make, main_db) -> None:
    s = make("woocommerce")
    accepted(s.deliver(s.sample(id=4001, status="processing", date_completed_gmt=None)))
    accepted(s.deliver(s.sample(id=4002, status="on-hold", date_paid_gmt="2024-03-01T09:05:00")))
    assert post(s.deliver(s.sample(id=4001))).json()["status"] == "duplicate"  # later completed
    assert events(main_db, s) == 2


# -- PayPal -----------------------------------------------------------------------------


def body_with_high_crc(doc: dict) -> bytes:
    """A body whose CRC-32 is >= 2^31, so a signed-int CRC would differ from PayPal's unsigned one."""
    for n in range(1000):
        body = json.dumps({**doc, "nonce": n}).encode()
        if zlib.crc32(body) >= 2**31:
            return body
    raise AssertionError("no body with a high CRC-32")


def test_paypal_crc32_of_the_body_is_an_unsigned_decimal(make) -> None:
    s = make("paypal")
    body = body_with_high_crc(s.sample())
    signed_crc = zlib.crc32(body) - 2**32
    assert post(s.deliver(body, crc=signed_crc)).status_code == 401
    accepted(s.deliver(body))


def test_paypal_webhook_id_is_the_tenants_configured_one(make) -> None:
    s = make("paypal")
    assert post(s.deliver(s.sample(), webhook_id="WH-SOMEONE-ELSE")).status_code == 401
    accepted(s.deliver(s.sample()))


def test_paypal_dedupes_on_the_wh_event_id(make, main_db) -> None:
    s = make("paypal")
    doc = s.sample()
    first = accepted(s.deliver(doc))
    retransmission = s.deliver(doc)  # PayPal's retry: new transmission id and signature, same event
    assert post(retransmission).json() == {"status": "duplicate", "event_id": first}
    assert events(main_db, s) == 1


def test_paypal_capture_refund_is_negative_and_points_at_the_capture(make, main_db) -> None:
    s = make("paypal")
    doc = s.sample(event_type="PAYMENT.CAPTURE.REFUNDED")
    up = {"rel": "up", "href": "https://api.paypal.com/v2/payments/captures/CAP42"}
    doc["resource"] = {"id": "REF1", "amount": {"value": "1.234", "currency_code": "KWD"}, "invoice_id": "INV-9",
                       "links": [up]}  # fmt: skip
    e = event(main_db, s, accepted(s.deliver(doc)))
    assert (e["kind"], e["amount_minor"], e["currency"], e["payment_ref"], e["order_ref"]) == (
        "refund", -1234, "KWD", "CAP42", "INV-9")  # fmt: skip


def test_paypal_sale_completed_reads_amount_total(make, main_db) -> None:
    s = make("paypal")
    doc = s.sample(event_type="PAYMENT.SALE.COMPLETED")
    doc["resource"] = {"id": "SALE1", "amount": {"total": "3000", "currency": "JPY"}, "invoice_number": "INV-3"}
    e = event(main_db, s, accepted(s.deliver(doc)))
    assert (e["kind"], e["amount_minor"], e["payment_ref"]) == ("payment", 3000, "SALE1")


def test_paypal_client_supplied_attestation_header_is_dropped(make) -> None:
    s = make("paypal")
    body = json.dumps(s.sample()).encode()
    cert_hash = hashlib.sha256(s.secret.pem.encode()).hexdigest()
    forged = {
        "PAYPAL-TRANSMISSION-ID": "t1",
        "PAYPAL-TRANSMISSION-TIME": dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(b"x" * 256).decode(),
        "X-Skeldir-PayPal-Verification": f"v1,{cert_hash},{hashlib.sha256(body).hexdigest()}",
    }
    assert post(Delivery(s.url, body, forged)).status_code == 401


# -- Standard Webhooks ------------------------------------------------------------------


def test_standard_key_is_the_base64_decoded_secret_after_whsec(make) -> None:
    s = make("standard")
    body = json.dumps(s.sample()).encode()
    ts = str(int(time.time()))
    raw_key_sig = base64.b64encode(hmac.new(s.secret.encode(), f"msg_a.{ts}.".encode() + body,
                                            hashlib.sha256).digest()).decode()  # fmt: skip
    headers = {"webhook-id": "msg_a", "webhook-timestamp": ts, "webhook-signature": f"v1,{raw_key_sig}"}
    assert post(Delivery(s.url, body, headers)).status_code == 401
    accepted(s.deliver(body))


def test_standard_signed_content_includes_the_message_id(make) -> None:
    s = make("standard")
    d = s.deliver(s.sample())
    d.headers["webhook-id"] = "msg_other"
    assert post(d).status_code == 401


@pytest.mark.parametrize(("age", "status"), [(240, 200), (-240, 200), (360, 401), (-360, 401)])
def test_standard_timestamp_tolerance_is_five_minutes_either_way(make, age: int, status: int) -> None:
    s = make("standard")
    assert post(s.deliver(s.sample(), timestamp=int(time.time()) - age)).status_code == status


def test_standard_counts_an_order_once_by_its_order_ref_whatever_the_webhook_id(make, main_db) -> None:
    s = make("standard")
    doc = s.sample()
    first = accepted(s.deliver(doc, key="same"))
    assert post(s.deliver(doc, key="same")).json() == {"status": "duplicate", "event_id": first}
    assert post(s.deliver(doc, key="other")).json() == {"status": "duplicate", "event_id": first}
    assert events(main_db, s) == 1


@pytest.mark.parametrize(("currency", "amount", "kind", "minor"), [
    ("JPY", "500", "order.created", 500), ("USD", "12.34", "payment.succeeded", 1234),
    ("KWD", "1.234", "refund.created", -1234), ("USD", "0.5", "refund.created", -50),
])  # fmt: skip
def test_standard_money_is_exact_per_currency_exponent(make, main_db, currency, amount, kind, minor) -> None:
    s = make("standard")
    doc = s.sample(type=kind, currency=currency, amount=amount, payment_ref="p-1")
    assert event(main_db, s, accepted(s.deliver(doc)))["amount_minor"] == minor


def test_standard_amount_finer_than_the_currency_is_dead_lettered(make) -> None:
    s = make("standard")
    answer = post(s.deliver(s.sample(currency="JPY", amount="10.5"))).json()
    assert (answer["status"], answer["reason"]) == ("dead_lettered", "bad_amount")


def test_every_vendor_stores_a_keyed_hash_of_the_email_never_the_email(make, main_db) -> None:
    s = make("standard")
    e = event(main_db, s, accepted(s.deliver(s.sample(customer_email=" C@Example.com "))))
    assert e["customer_ref"] is not None and len(e["customer_ref"]) == 64
    assert "example.com" not in json.dumps(e, default=str).lower()
    other = event(main_db, s, accepted(s.deliver(s.sample(customer_email="c@example.com"))))
    assert other["customer_ref"] == e["customer_ref"]  # normalized, stable within the deployment
    assert e["customer_ref"] != hashlib.sha256(b"c@example.com").hexdigest()  # keyed, not a bare hash
