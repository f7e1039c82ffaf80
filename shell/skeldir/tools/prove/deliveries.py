"""One valid signed delivery per vendor, built from the vendors' documented formulas (SPEC §5).

Adding a vendor's end-to-end chain is one entry in ``E2E_DELIVERIES``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from skeldir.tools import loadtest
from skeldir.tools.prove.context import Context, NotAvailable, query


@dataclass
class Delivery:
    """One signed webhook for a vendor: where it goes, what it carries, what it must become."""

    url: str
    headers: dict[str, str]
    body: bytes
    vendor_event_id: str | None  # None: the vendor's dedupe key is not known to the builder
    kind: str  # order | payment | refund
    amount_minor: int
    currency: str
    sensitive: list[str]  # values that must never appear in a log (signatures, PII)


def _email() -> str:
    return f"prove.{secrets.token_hex(4)}@example.com"


def _json(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def stripe_delivery(ctx: Context | None, tenant: dict, amount_minor: int = 4200) -> Delivery:
    """Stripe: HMAC-SHA256 hex over `t.body` keyed by the whole whsec_ string."""
    now = int(time.time())
    email = _email()
    event = {
        "id": f"evt_prove_{secrets.token_hex(8)}",
        "type": "payment_intent.succeeded",
        "created": now,
        "data": {
            "object": {
                "id": f"pi_prove_{secrets.token_hex(6)}",
                "amount": amount_minor,
                "amount_received": amount_minor,
                "currency": "usd",
                "receipt_email": email,
                "metadata": {"order_id": f"P{secrets.token_hex(4)}", "utm_source": "google", "utm_medium": "cpc"},
            }
        },
    }
    body = _json(event)
    headers = loadtest.stripe_sign(body, tenant["secrets"]["stripe"], now, event["id"])
    digest = headers["Stripe-Signature"].split("v1=", 1)[1]
    return Delivery(
        url=tenant["endpoints"]["stripe"],
        headers={**headers, "Content-Type": "application/json"},
        body=body,
        vendor_event_id=event["id"],
        kind="payment",
        amount_minor=amount_minor,
        currency="USD",
        sensitive=[digest, email],
    )


def shopify_delivery(ctx: Context | None, tenant: dict) -> Delivery:
    """Shopify orders/create: base64 HMAC-SHA256 of the body; dedupe on X-Shopify-Webhook-Id."""
    email = _email()
    order = {
        "id": 820982911946154508 + secrets.randbelow(10**6),  # beyond 2^53: no float parsing anywhere
        "email": email,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "currency": "USD",
        "total_price": "199.99",
        "landing_site": "/products/a?utm_source=facebook&utm_medium=social&utm_campaign=prove",
        "referring_site": "https://www.facebook.com/",
        "source_name": "web",
        "note_attributes": [],
    }
    body = _json(order)
    headers = loadtest.shopify_sign(body, tenant["secrets"]["shopify"], 0, str(uuid.uuid4()))
    signature = headers["X-Shopify-Hmac-Sha256"]
    return Delivery(
        url=tenant["endpoints"]["shopify"],
        headers={
            **headers,
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Shop-Domain": "prove.myshopify.com",
            "Content-Type": "application/json",
        },
        body=body,
        vendor_event_id=None,
        kind="order",
        amount_minor=19999,
        currency="USD",
        sensitive=[signature, email],
    )


def woocommerce_delivery(ctx: Context | None, tenant: dict) -> Delivery:
    """WooCommerce order.updated (completed): base64 HMAC-SHA256 keyed by the entity-decoded secret."""
    email = _email()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    order = {
        "id": 100000 + secrets.randbelow(10**6),
        "status": "completed",
        "currency": "EUR",
        "total": "49.90",
        "date_created_gmt": now,
        "date_modified_gmt": now,
        "date_completed_gmt": now,
        "billing": {"first_name": "Prove", "email": email},
        "meta_data": [
            {"id": 1, "key": "_wc_order_attribution_utm_source", "value": "newsletter"},
            {"id": 2, "key": "_wc_order_attribution_utm_medium", "value": "email"},
        ],
        "refunds": [],
    }
    body = _json(order)
    headers = loadtest.woocommerce_sign(body, tenant["secrets"]["woocommerce"], 0, secrets.token_hex(8))
    signature = headers["X-WC-Webhook-Signature"]
    return Delivery(
        url=tenant["endpoints"]["woocommerce"],
        headers={**headers, "Content-Type": "application/json"},
        body=body,
        vendor_event_id=None,
        kind="order",
        amount_minor=4990,
        currency="EUR",
        sensitive=[signature, email],
    )


def standard_delivery(ctx: Context | None, tenant: dict) -> Delivery:
    """Standard Webhooks: v1 base64 HMAC-SHA256 over `id.timestamp.body`, key = base64 after whsec_."""
    email = _email()
    doc = {
        "type": "order.created",
        "order_ref": f"o-{secrets.token_hex(6)}",
        "amount": "12.34",
        "currency": "USD",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "attribution": {"utm_source": "google", "utm_medium": "cpc"},
        "customer_email": email,
    }
    body = _json(doc)
    headers = loadtest.standard_sign(
        body, tenant["secrets"]["standard"], int(time.time()), f"msg_{secrets.token_hex(8)}"
    )
    signature = headers["webhook-signature"].removeprefix("v1,")
    return Delivery(
        url=tenant["endpoints"]["standard"],
        headers={**headers, "Content-Type": "application/json"},
        body=body,
        vendor_event_id=None,
        kind="order",
        amount_minor=1234,
        currency="USD",
        sensitive=[signature, email],
    )


def paypal_delivery(ctx: Context | None, tenant: dict) -> Delivery:
    """PayPal PAYMENT.CAPTURE.COMPLETED: RSA-SHA256 over `transmission_id|time|webhook_id|crc32(body)`,
    checked against the tenant's pinned certificate (pinned here, as an operator would)."""
    import zlib

    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID
    except ImportError as exc:
        raise NotAvailable("the PayPal chain needs the cryptography package (pip install -e '.[test]')") from exc
    if ctx is None:
        raise NotAvailable("the PayPal chain pins a certificate and needs the run's context")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.prove")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now.replace(year=now.year - 1))
        .not_valid_after(now.replace(year=now.year + 1))
        .sign(key, hashes.SHA256())
    )
    webhook_id = f"WH-SUB-{secrets.token_hex(6)}"
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    with psycopg.connect(ctx.migration_dsn, autocommit=True) as conn:
        pin = {"tenant_id": tenant["tenant_id"], "certificate": pem, "webhook_id": webhook_id}
        conn.execute(query("paypal_pin"), pin)
    doc = {
        "id": f"WH-{secrets.token_hex(8)}",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "create_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resource": {
            "id": f"CAP{secrets.token_hex(6)}",
            "amount": {"value": "10.50", "currency_code": "USD"},
            "invoice_id": f"INV-{secrets.token_hex(3)}",
            "custom_id": "utm_source=google&utm_medium=cpc",
        },
    }
    body = _json(doc)
    transmission_id, when = str(uuid.uuid4()), now.strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{when}|{webhook_id}|{zlib.crc32(body)}".encode()
    signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    return Delivery(
        url=tenant["endpoints"]["paypal"],
        headers={
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": when,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/CERT-prove",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "Content-Type": "application/json",
        },
        body=body,
        vendor_event_id=None,
        kind="payment",
        amount_minor=1050,
        currency="USD",
        sensitive=[signature],
    )


# vendor -> builder of one valid signed delivery for a tenant of the run (SPEC §5 formulas).
# A vendor without an entry, or one the shell answers 404 for, is reported not_available.
E2E_DELIVERIES: dict[str, Callable[[Context | None, dict], Delivery]] = {
    "stripe": stripe_delivery,
    "shopify": shopify_delivery,
    "woocommerce": woocommerce_delivery,
    "paypal": paypal_delivery,
    "standard": standard_delivery,
}
