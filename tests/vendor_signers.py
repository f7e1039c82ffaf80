"""Test-side senders for every vendor: signers no one in the shell wrote.

Stripe deliveries are signed by the ``stripe`` SDK and Standard Webhooks by the
``standardwebhooks`` library; Shopify, WooCommerce and PayPal by stdlib / ``cryptography``
code written here from the vendors' documented formulas (independent of skeldir.web.paypal).
Each Sender builds a valid sample document, signs raw bytes and knows its dedupe key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import psycopg
import standardwebhooks
import stripe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from support import dumps


def uid() -> str:
    return uuid.uuid4().hex[:16]


def b64_hmac(key: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


@dataclass
class PayPalKey:
    """An RSA key and a self-signed certificate standing in for PayPal's signing cert."""

    private: rsa.RSAPrivateKey
    pem: str

    @classmethod
    def new(cls) -> PayPalKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.test")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert.public_bytes(serialization.Encoding.PEM).decode())


_PAYPAL_KEYS: list[PayPalKey] = []


def paypal_key(index: int) -> PayPalKey:
    """RSA key generation is slow: a few keys are made once per test session."""
    while len(_PAYPAL_KEYS) <= index:
        _PAYPAL_KEYS.append(PayPalKey.new())
    return _PAYPAL_KEYS[index]


@dataclass
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Sender:
    """Signs deliveries for one vendor and tenant (tenant: the dict of skeldir tenant create)."""

    vendor: str
    tenant: dict
    secret: Any = None  # the signing secret; PayPal: a PayPalKey
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.tenant["endpoints"][self.vendor]

    # -- sample documents -------------------------------------------------------------

    def sample(self, **overrides: Any) -> dict:
        doc = getattr(self, f"_sample_{self.vendor}")()
        doc.update(overrides)
        return doc

    def _sample_stripe(self) -> dict:
        return {
            "id": f"evt_{uid()}",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"pi_{uid()}",
                    "amount": 2500,
                    "amount_received": 2500,
                    "currency": "usd",
                    "receipt_email": "jane.doe@example.com",
                    "metadata": {"order_id": "1001", "utm_source": "google", "utm_medium": "cpc"},
                }
            },
        }

    def _sample_shopify(self) -> dict:
        return {
            "id": 820982911946154508 + uuid.uuid4().int % 10**9,  # beyond 2^53; one order per sample
            "email": "jon@example.com",
            "created_at": "2024-03-01T10:15:00-05:00",
            "currency": "USD",
            "total_price": "199.99",
            "landing_site": "/products/a?utm_source=facebook&utm_medium=social&utm_campaign=spring",
            "referring_site": "https://www.facebook.com/",
            "source_name": "web",
            "note_attributes": [],
        }

    def _sample_woocommerce(self) -> dict:
        return {
            "id": int(uuid.uuid4().int % 10_000_000),
            "status": "completed",
            "currency": "EUR",
            "total": "49.90",
            "date_created_gmt": "2024-03-01T09:00:00",
            "date_modified_gmt": "2024-03-01T10:00:00",
            "date_completed_gmt": "2024-03-01T10:00:00",
            "billing": {"first_name": "Ana", "email": "ana@example.com"},
            "meta_data": [
                {"id": 1, "key": "_wc_order_attribution_utm_source", "value": "newsletter"},
                {"id": 2, "key": "_wc_order_attribution_utm_medium", "value": "email"},
            ],
            "refunds": [],
        }

    def _sample_paypal(self) -> dict:
        return {
            "id": f"WH-{uid()}",
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "create_time": "2024-03-01T10:00:00Z",
            "resource": {
                "id": f"CAP{uid()}",
                "amount": {"value": "10.50", "currency_code": "USD"},
                "invoice_id": "INV-1",
                "custom_id": "utm_source=google&utm_medium=cpc",
            },
        }

    def _sample_standard(self) -> dict:
        return {
            "type": "order.created",
            "order_ref": f"o-{uid()}",
            "amount": "12.34",
            "currency": "USD",
            "occurred_at": "2024-03-01T10:00:00Z",
            "attribution": {"utm_source": "google", "utm_medium": "cpc"},
            "customer_email": "c@example.com",
        }

    # -- signing ------------------------------------------------------------------------

    def deliver(self, doc: dict | bytes, *, key: str | None = None, secret: Any = None, **kw: Any) -> Delivery:
        """A signed delivery. key: the vendor's per-delivery id where it has one (fresh if None)."""
        body = doc if isinstance(doc, bytes) else dumps(doc)
        signer = getattr(self, f"_deliver_{self.vendor}")
        return signer(body, key or uid(), self.secret if secret is None else secret, **kw)

    def _deliver_stripe(self, body: bytes, key: str, secret: str, timestamp: int | None = None) -> Delivery:
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp)
        return Delivery(self.url, body, {"Stripe-Signature": header, "Content-Type": "application/json"})

    def _deliver_shopify(self, body: bytes, key: str, secret: str, topic: str = "orders/create",
                         prefix: str = "X-") -> Delivery:  # fmt: skip
        return Delivery(
            self.url,
            body,
            {
                f"{prefix}Shopify-Hmac-Sha256": b64_hmac(secret.encode(), body),
                f"{prefix}Shopify-Topic": topic,
                f"{prefix}Shopify-Webhook-Id": key,
                f"{prefix}Shopify-Event-Id": "shared-event",
                f"{prefix}Shopify-Shop-Domain": "shop.example",
                "Content-Type": "application/json",
            },
        )

    def _deliver_woocommerce(self, body: bytes, key: str, secret: str, topic: str = "order.updated") -> Delivery:
        # WordPress signs with wp_specialchars_decode(secret): entities decoded.
        signing_key = html.unescape(secret).encode()
        resource, event = topic.split(".")
        return Delivery(
            self.url,
            body,
            {
                "X-WC-Webhook-Signature": b64_hmac(signing_key, body),
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-ID": "7",
                "X-WC-Webhook-Delivery-ID": key,
                "Content-Type": "application/json",
            },
        )

    def _deliver_paypal(self, body: bytes, key: str, secret: PayPalKey, webhook_id: str | None = None,
                        transmission_time: str | None = None, crc: int | None = None) -> Delivery:  # fmt: skip
        transmission_id = str(uuid.uuid4())
        when = transmission_time or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        crc32 = zlib.crc32(body) if crc is None else crc  # unsigned decimal, as PayPal documents
        message = f"{transmission_id}|{when}|{webhook_id or self.extra['webhook_id']}|{crc32}".encode()
        signature = secret.private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return Delivery(
            self.url,
            body,
            {
                "PAYPAL-TRANSMISSION-ID": transmission_id,
                "PAYPAL-TRANSMISSION-TIME": when,
                "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
                "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/CERT-test",
                "PAYPAL-AUTH-ALGO": "SHA256withRSA",
                "Content-Type": "application/json",
            },
        )

    def _deliver_standard(self, body: bytes, key: str, secret: str, timestamp: int | None = None) -> Delivery:
        msg_id = f"msg_{key}"
        when = dt.datetime.fromtimestamp(int(time.time()) if timestamp is None else timestamp, dt.UTC)
        signature = standardwebhooks.Webhook(secret).sign(msg_id, when, body.decode())
        return Delivery(
            self.url,
            body,
            {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(when.timestamp())),
                "webhook-signature": signature,
                "Content-Type": "application/json",
            },
        )


def sender(vendor: str, tenant: dict, migration_dsn: str) -> Sender:
    """A Sender holding the tenant's current secret; PayPal gets a pinned cert and webhook id."""
    if vendor != "paypal":
        return Sender(vendor, tenant, tenant["secrets"][vendor])
    key = paypal_key(0)
    webhook_id = f"WH-SUB-{uid()}"
    with psycopg.connect(migration_dsn) as conn:
        conn.execute("SELECT api.tenant_secret_set(%s, 'paypal', %s, %s)", [tenant["tenant_id"], key.pem, webhook_id])
    return Sender(vendor, tenant, key, {"webhook_id": webhook_id})
