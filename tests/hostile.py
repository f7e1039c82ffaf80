"""Hostile traffic with exact accounting (issue 18): a seeded generator, a raw HTTP/1.1 client
and the ledger that checks every answer against the database's own counts.

The generator mixes four kinds of traffic, each request knowing which run tenant (if any) it
is addressed to, i.e. which tenant the database can resolve from its endpoint token or key:

- ``garbage``: unauthenticated or unaddressed bytes (unknown vendors and tokens, a real
  tenant's token or key with a wrong, stale or missing signature, bodies of any shape,
  oversized bodies);
- ``signed``: documents correctly signed for a real tenant and vendor but hostile inside
  (long, deep, mistyped, huge or non-finite numbers, broken encodings, odd timestamps,
  long vendor ids in headers, non-objects, truncation), plain valid ones and redeliveries;
- ``protocol``: bad Content-Length, bogus chunking, request smuggling shapes, header
  floods, slowloris, pipelining, mid-body hang-ups, non-HTTP bytes;
- ``read``: the tenant read API with missing, foreign and absurd keys and parameters.

Nothing here decides what a hostile document *should* get: the ledger takes the answers as
they come (accepted, duplicate, dead_lettered, ignored, 400, 401, 404, 405, 413, ...) and
requires that the database stored exactly what they claim (``Ledger.check``).
Signers are written out from the vendors' documented formulas over raw bytes (a hostile
body need not be UTF-8, which the vendors' SDKs refuse); PayPal uses the test PayPalKey.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import random
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from vendor_signers import PayPalKey, paypal_key

VENDORS = ("stripe", "shopify", "woocommerce", "paypal", "standard")
ALIASES = {
    "/api/webhooks/shopify/order_create": "shopify",
    "/api/webhooks/stripe/payment_intent/succeeded": "stripe",
    "/api/webhooks/stripe/payment_intent_succeeded": "stripe",
    "/api/webhooks/paypal/sale_completed": "paypal",
    "/api/webhooks/woocommerce/order_completed": "woocommerce",
}
READ_PATHS = (
    "/api/revenue/daily",
    "/api/revenue/realtime",
    "/api/channels",
    "/api/allocations/summary",
    "/api/reconciliation",
)
MAX_BODY = 1024 * 1024  # the shell's default SKELDIR_MAX_BODY_BYTES
STORING = ("accepted", "duplicate", "dead_lettered", "ignored")


# -- what goes over the wire ---------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request and what the generator knows about it."""

    kind: str
    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    tenant: int | None = None  # the run tenant the database can resolve it to, if any
    vendor: str | None = None

    def wire(self, close: bool = True) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1".encode(), b"Host: hostile.test"]
        lines += [name + b": " + value for name, value in self.headers]
        if not any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers):
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        if close:
            lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


@dataclass
class Exchange:
    """What happens on one connection: requests answered in order, or raw protocol abuse."""

    kind: str
    requests: list[Request]  # the requests whose answers are expected, in order
    raw: bytes | None = None  # written instead of the requests' own bytes
    pieces: int = 1  # slowloris: the bytes go out in this many pieces...
    pause: float = 0.0  # ...this far apart
    hang_up: bool = False  # we close before the request is complete: nobody is answered
    malformed: bool = False  # not one valid HTTP request: a 4xx answer or the server's close

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"".join(r.wire(close=i == len(self.requests) - 1) for i, r in enumerate(self.requests))


@dataclass
class Answer:
    request: Request | None
    status: int | None  # None: no answer
    body: bytes = b""

    def json(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.body)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}


@dataclass
class Outcome:
    exchange: Exchange
    answers: list[Answer]
    error: str | None = None  # the client's view when an expected answer did not come


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """One HTTP/1.1 response (Content-Length or read-to-close bodies); None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ConnectionError(f"truncated response head: {exc.partial[:80]!r}") from None
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        body = await reader.read()
    return status, body


async def run_exchange(host: str, port: int, ex: Exchange, timeout: float) -> Outcome:
    answers: list[Answer] = []
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                data = ex.payload()
                step = max(1, -(-len(data) // ex.pieces))
                for start in range(0, len(data), step):
                    writer.write(data[start : start + step])
                    await writer.drain()
                    if ex.pause and start + step < len(data):
                        await asyncio.sleep(ex.pause)
                if ex.hang_up:
                    await asyncio.sleep(0.05)
                    return Outcome(ex, [])
                for request in ex.requests or [None]:
                    response = await read_response(reader)
                    if response is None:
                        break
                    answers.append(Answer(request, *response))
            finally:
                writer.close()
                try:
                    await writer.wait_closed()
                except (ConnectionError, OSError):
                    pass
    except TimeoutError:
        return Outcome(ex, answers, "timeout")
    except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
        if ex.malformed:
            return Outcome(ex, answers)  # the server may just close on bytes that are not HTTP
        return Outcome(ex, answers, type(exc).__name__)
    expected = len(ex.requests) if not ex.malformed else 0
    if len(answers) < expected:
        return Outcome(ex, answers, f"{expected - len(answers)} of {expected} unanswered")
    return Outcome(ex, answers)


# -- tenants and signers -----------------------------------------------------------------


@dataclass
class Kit:
    """A run tenant as the generator sees it: tokens, key, secrets, PayPal key and webhook id."""

    tenant: dict
    paypal: PayPalKey
    paypal_webhook_id: str

    def token(self, vendor: str) -> str:
        return self.tenant["endpoints"][vendor].rsplit("/", 1)[1]


def b64_hmac(key: bytes, body: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())


def sign(
    kit: Kit, vendor: str, body: bytes, key: str, *, skew: int = 0, when: str | None = None, wrong: bool = False
) -> list[tuple[bytes, bytes]]:
    """Signature headers of ``vendor`` over the raw bytes (wrong: a secret that is not the tenant's)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" if wrong else kit.tenant["secrets"].get(vendor, "")
    now = int(time.time()) + skew
    if vendor == "stripe":
        digest = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
        return [(b"Stripe-Signature", f"t={now},v1={digest}".encode())]
    if vendor == "shopify":
        return [(b"X-Shopify-Hmac-Sha256", b64_hmac(secret.encode(), body)), (b"X-Shopify-Webhook-Id", key.encode())]
    if vendor == "woocommerce":
        return [
            (b"X-WC-Webhook-Signature", b64_hmac(html.unescape(secret).encode(), body)),
            (b"X-WC-Webhook-Delivery-ID", key.encode()),
        ]
    if vendor == "standard":
        raw_key = base64.b64decode(secret.removeprefix("whsec_") + "==")
        signed = f"{key}.{now}.".encode() + body
        return [
            (b"webhook-id", key.encode()),
            (b"webhook-timestamp", str(now).encode()),
            (b"webhook-signature", b"v1," + b64_hmac(raw_key, signed)),
        ]
    # PayPal: RSA-SHA256 over id|time|webhook_id|crc32, the CRC as an unsigned decimal.
    stamp = when or (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew)).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{key}|{stamp}|{kit.paypal_webhook_id}|{zlib.crc32(body)}".encode()
    signer = paypal_key(1) if wrong else kit.paypal  # wrong: a key whose certificate is not pinned
    signature = signer.private.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return [
        (b"PAYPAL-TRANSMISSION-ID", key.encode()),
        (b"PAYPAL-TRANSMISSION-TIME", stamp.encode()),
        (b"PAYPAL-TRANSMISSION-SIG", base64.b64encode(signature)),
        (b"PAYPAL-AUTH-ALGO", b"SHA256withRSA"),
        (b"PAYPAL-CERT-URL", b"https://api.paypal.com/v1/notifications/certs/CERT-test"),
    ]


# -- documents ---------------------------------------------------------------------------


RAW = "@@raw{}@@"  # a placeholder string replaced by a raw JSON literal after serialisation


class Generator:
    def __init__(self, seed: int, kits: list[Kit]) -> None:
        self.rng = random.Random(seed)
        self.kits = kits
        self.serial = 0
        self.raws: dict[str, str] = {}
        self.signed_before: list[tuple[int, str, bytes, str, list[tuple[bytes, bytes]]]] = []

    def uid(self, prefix: str = "") -> str:
        self.serial += 1
        return f"{prefix}{self.rng.getrandbits(48):012x}{self.serial}"

    def raw(self, literal: str) -> str:
        marker = RAW.format(len(self.raws))
        self.raws[marker] = literal
        return marker

    def dumps(self, doc: Any) -> bytes:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=self.rng.random() < 0.5)
        for marker, literal in self.raws.items():
            text = text.replace(json.dumps(marker), literal)
        self.raws.clear()
        return text.encode("utf-8", "surrogatepass")

    # Valid documents, one topic mix per vendor (ignored topics included).
    def document(self, vendor: str) -> tuple[dict, list[tuple[bytes, bytes]]]:
        r, now = self.rng, int(time.time())
        amount = r.choice([0, 1, 99, 2500, 199999, 10**12])
        meta = {
            "order_id": str(r.randint(1, 10**6)),
            "utm_source": r.choice(["google", "fb", ""]),
            "utm_medium": "cpc",
            "utm_campaign": r.choice(["spring", "x" * 80]),
        }
        if vendor == "stripe":
            kind = r.choice(["payment_intent.succeeded", "charge.succeeded", "charge.refunded", "customer.created"])
            obj: dict[str, Any] = {
                "id": self.uid("pi_" if kind.startswith("payment") else "ch_"),
                "amount": amount,
                "amount_received": amount,
                "amount_refunded": r.choice([0, amount]),
                "payment_intent": self.uid("pi_"),
                "currency": r.choice(["usd", "jpy", "kwd"]),
                "receipt_email": "a@example.com",
                "metadata": meta,
            }
            return {"id": self.uid("evt_"), "type": kind, "created": now, "data": {"object": obj}}, []
        if vendor == "shopify":
            topic = r.choice(["orders/create", "orders/paid", "refunds/create", "customers/create"])
            doc = {
                "id": r.randint(1, 2**63 - 1),
                "order_id": r.randint(1, 2**63 - 1),
                "email": "j@example.com",
                "created_at": "2026-03-01T10:15:00-05:00",
                "currency": "USD",
                "total_price": "199.99",
                "financial_status": "paid",
                "landing_site": "/?utm_source=fb",
                "note_attributes": [],
                "transactions": [{"id": r.randint(1, 10**12), "amount": "5.00", "kind": "refund"}],
            }
            return doc, [(b"X-Shopify-Topic", topic.encode()), (b"X-Shopify-Event-Id", self.uid().encode())]
        if vendor == "woocommerce":
            doc = {
                "id": r.randint(1, 10**7),
                "status": r.choice(["completed", "processing", "pending"]),
                "currency": "EUR",
                "total": "49.90",
                "date_created_gmt": "2026-03-01T09:00:00",
                "date_paid_gmt": r.choice([None, "2026-03-01T10:00:00"]),
                "billing": {"email": "a@example.com"},
                "meta_data": [{"key": "_wc_order_attribution_utm_source", "value": "news"}],
                "refunds": r.choice([[], [{"id": r.randint(1, 10**6), "total": "-5.00"}]]),
            }
            return doc, [(b"X-WC-Webhook-Topic", r.choice([b"order.updated", b"order.created"]))]
        if vendor == "paypal":
            kind = r.choice(
                [
                    "PAYMENT.CAPTURE.COMPLETED",
                    "PAYMENT.SALE.COMPLETED",
                    "PAYMENT.CAPTURE.REFUNDED",
                    "CUSTOMER.DISPUTE.CREATED",
                ]
            )
            resource = {
                "id": self.uid("CAP"),
                "amount": {"value": "10.50", "currency_code": "USD"},
                "invoice_id": "INV-1",
                "custom_id": "utm_source=google",
            }
            return {
                "id": self.uid("WH-"),
                "event_type": kind,
                "create_time": "2026-03-01T10:00:00Z",
                "resource": resource,
            }, []
        kind = r.choice(["order.created", "payment.succeeded", "refund.created", "subscription.paused"])
        return {
            "type": kind,
            "order_ref": self.uid("o-"),
            "payment_ref": self.uid("p-"),
            "amount": r.choice(["12.34", "-1.00", "0"]),
            "currency": "USD",
            "occurred_at": "2026-03-01T10:00:00Z",
            "attribution": {"utm_source": "google"},
            "customer_email": "c@example.com",
        }, []

    def hostile_value(self) -> Any:
        r = self.rng
        choices: list[Callable[[], Any]] = [
            lambda: "x" * r.choice([256, 300, 3000, 70_000]),
            lambda: 10 ** r.choice([15, 16, 19, 30, 400]),
            lambda: -r.randint(1, 10**6),
            lambda: self.raw(r.choice(["1e400", "-1e400", "-0", "0.1e-999", "1E+2", "123456789012345678901234.5"])),
            lambda: r.choice([True, False, None, [], {}, [1, [2, [3]]], {"a": {"b": "c"}}, 0.1]),
            lambda: r.choice(["", " ", "\u202eabc", "😀" * 50, "\u0000", "a\u0000b", "\ud800", "\udfff\ud800", "é"]),
            lambda: r.choice(
                [
                    "infinity",
                    "-infinity",
                    "2024-02-30T10:00:00Z",
                    "0000-01-01T00:00:00Z",
                    "99999-12-31",
                    "1970-01-01T00:00:00Z",
                    "2024-03-01T10:00:00+25:00",
                    "yesterday",
                    "now",
                    "2024-03-01T10:00:00.1234567890123Z",
                ]
            ),
            lambda: r.choice(["1e3", "-5.00", "0.001", "12,50", "١٢٣", " 12.00 ", "1" + "0" * 40, "NaN", "0x10"]),
            lambda: r.choice(["XXX", "usd", "ZZZ", "", "US", "EURO", "€"]),
            lambda: self.raw("[" * (d := r.choice([64, 1000, 5000])) + "]" * d),
            lambda: list(range(r.choice([1000, 20_000]))),
            lambda: self.raw(r.choice(["NaN", "Infinity", "-Infinity", "undefined", "'single'", "01"])),
        ]
        return r.choice(choices)()

    def mutate(self, doc: Any) -> Any:
        """Replaces one value at a random path (or adds one) with a hostile value."""
        r = self.rng
        if isinstance(doc, dict) and doc:
            key = r.choice(list(doc))
            if r.random() < 0.35:
                doc[key] = self.hostile_value()
            else:
                doc[key] = self.mutate(doc[key])
            if r.random() < 0.05:
                doc[r.choice(["zzz", "id", "__proto__", "a" * 300])] = self.hostile_value()
            return doc
        if isinstance(doc, list) and doc:
            i = r.randrange(len(doc))
            doc[i] = self.mutate(doc[i])
            return doc
        return self.hostile_value()

    def mangle(self, body: bytes) -> bytes:
        """Whole-body damage after serialisation (still signed afterwards)."""
        r = self.rng
        how = r.randrange(8)
        if how == 0:
            at = r.randrange(len(body) + 1)
            return body[:at] + r.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00"]) + body[at:]
        if how == 1:
            return body.decode("utf-8", "replace").encode("utf-16")
        if how == 2:
            return b"\xef\xbb\xbf" + body
        if how == 3:
            return body[: r.randrange(max(1, len(body)))]
        if how == 4:
            return r.choice([b"[]", b'"str"', b"null", b"123", b"", b"{}", b"true", b"[{}]"])
        if how == 5:
            return b'{"id":"dup","id":' + body + b"}"
        if how == 6:
            return body + b" " * r.choice([1, 1000]) + r.choice([b"", b"{}", b"x"])
        return body.replace(b":", b": ", r.randint(1, 5))

    # -- exchanges -------------------------------------------------------------------------

    def exchange(self) -> Exchange:
        roll = self.rng.random()
        if roll < 0.25:
            return self.garbage()
        if roll < 0.70:
            return self.signed()
        if roll < 0.85:
            return self.protocol()
        return self.read()

    def _kit(self) -> tuple[int, Kit]:
        i = self.rng.randrange(len(self.kits))
        return i, self.kits[i]

    def garbage(self) -> Exchange:
        r = self.rng
        i, kit = self._kit()
        vendor = r.choice(VENDORS)
        body = r.choice(
            [
                b"x",
                b"",
                b"{}",
                self.dumps(self.document(vendor)[0]),
                bytes(r.getrandbits(8) for _ in range(64)),
                b"webhook_id=" + str(r.randint(1, 99)).encode(),
                b"\x00" * 10,
            ]
        )
        headers: list[tuple[bytes, bytes]] = []
        tenant: int | None = None
        how = r.randrange(9)
        if how == 0:  # the junk
            path, headers = "/webhooks/stripe", [(b"Stripe-Signature", b"t=1,v1=0")]
        elif how == 1:  # unknown vendor, with a real key even
            path = r.choice(["/webhooks/acme", "/webhooks/" + "v" * 300, "/webhooks/%00", "/webhooks/STRIPE"])
            headers = [(b"X-Skeldir-Tenant-Key", kit.tenant["api_key"].encode())]
        elif how == 2:  # unknown endpoint token
            token = r.choice(["ep_nope", "ep_" + "a" * 500, "ep_'OR'1'='1", "ep_%FF"])
            path = f"/webhooks/{vendor}/{token}"
        elif how == 3:  # a real token of another vendor: not resolvable
            other = r.choice([v for v in VENDORS if v != vendor])
            path = f"/webhooks/{vendor}/{kit.token(other)}"
        elif how == 4:  # the right token, a wrong, stale or missing signature
            path, tenant = f"/webhooks/{vendor}/{kit.token(vendor)}", i
            key = self.uid("k")
            headers = r.choice(
                [
                    [],
                    sign(kit, vendor, body, key, wrong=True),
                    sign(kit, vendor, body, key, skew=-3600),
                    sign(kit, vendor, body + b" ", key),
                ]
            )
            if vendor == "paypal" and headers:
                headers = sign(kit, vendor, body, key, skew=-3600) if r.random() < 0.5 else headers
        elif how == 5:  # another tenant's signature on this tenant's token
            j = (i + 1) % len(self.kits)
            path, tenant = f"/webhooks/{vendor}/{kit.token(vendor)}", i
            headers = sign(self.kits[j], vendor, body, self.uid("k"))
        elif how == 6:  # keyed route: a real or a random key
            if r.random() < 0.5:
                path, tenant = f"/webhooks/{vendor}", i
                headers = [(b"X-Skeldir-Tenant-Key", kit.tenant["api_key"].encode())]
            else:
                path = f"/webhooks/{vendor}"
                headers = [(b"X-Skeldir-Tenant-Key", r.choice([b"", b"sk_nope", b"\xff\xfe", b"x" * 4000]))]
        elif how == 7:  # predecessor aliases, unsigned
            path = r.choice(list(ALIASES))
            headers = [(b"X-Skeldir-Tenant-Key", b"nope")]
        else:  # oversized: refused before the database (413)
            path = f"/webhooks/{vendor}/{kit.token(vendor)}"
            body = b"{" + b" " * (MAX_BODY + r.choice([1, 4096])) + b"}"
            headers = sign(kit, vendor, body, self.uid("k"))
        if how == 6 and tenant is not None and r.random() < 0.5:
            headers += sign(kit, vendor, body, self.uid("k"), wrong=True)
        request = Request(f"garbage.{how}", "POST", path, headers, body, tenant, vendor)
        return Exchange(request.kind, [request])

    def signed(self) -> Exchange:
        r = self.rng
        i, kit = self._kit()
        vendor = r.choice(VENDORS)
        if self.signed_before and r.random() < 0.15:  # a redelivery, signed afresh
            i, vendor, body, key, extra = r.choice(self.signed_before)
            kit, kind = self.kits[i], "signed.redelivery"
        else:
            doc, extra = self.document(vendor)
            kind = "signed.valid"
            if r.random() < 0.75:
                for _ in range(r.choice([1, 1, 2, 3])):
                    doc = self.mutate(doc)
                kind = "signed.mutated"
            body = self.dumps(doc)
            if r.random() < 0.15:
                body, kind = self.mangle(body), "signed.mangled"
            key = self.uid({"paypal": "tx-", "standard": "msg_"}.get(vendor, ""))
            if r.random() < 0.05:
                key, kind = r.choice(["k" * 300, "k" * 256, " ", "é" * 10]), "signed.long_key"
            if len(body) <= 64 * 1024:
                self.signed_before.append((i, vendor, body, key, extra))
        headers = extra + sign(kit, vendor, body, key, when=self._paypal_time(vendor))
        if r.random() < 0.5:
            headers.append(
                (b"Content-Type", r.choice([b"application/json", b"text/plain", b"application/x-www-form-urlencoded"]))
            )
        keyed = r.random() < 0.2
        path = f"/webhooks/{vendor}" if keyed else f"/webhooks/{vendor}/{kit.token(vendor)}"
        if keyed:
            headers.append((b"X-Skeldir-Tenant-Key", kit.tenant["api_key"].encode()))
            if r.random() < 0.3:
                path = r.choice([p for p, v in ALIASES.items() if v == vendor] or [path])
        return Exchange(kind, [Request(kind, "POST", path, headers, body, i, vendor)])

    def _paypal_time(self, vendor: str) -> str | None:
        if vendor != "paypal" or self.rng.random() > 0.05:
            return None
        return self.rng.choice(["infinity", "-infinity", "now", "garbage", "2024-02-30T10:00:00Z", ""])

    def protocol(self) -> Exchange:
        r = self.rng
        junk = Request("protocol", "POST", "/webhooks/stripe", [(b"Stripe-Signature", b"t=1,v1=0")], b"x")
        head = b"POST /webhooks/stripe HTTP/1.1\r\nHost: h\r\n"
        how = r.randrange(14)
        if how == 0:
            raw = (
                head
                + r.choice(
                    [
                        b"Content-Length: abc\r\n",
                        b"Content-Length: -1\r\n",
                        b"Content-Length: 1\r\nContent-Length: 2\r\n",
                        b"Content-Length: 99999999999999999999999\r\n",
                    ]
                )
                + b"\r\nx"
            )
            return Exchange("protocol.bad_length", [], raw=raw, malformed=True)
        if how == 1:  # declares more than it sends, then hangs up
            return Exchange("protocol.short_body", [], raw=head + b"Content-Length: 1000\r\n\r\n{", hang_up=True)
        if how == 2:
            raw = (
                head
                + b"Transfer-Encoding: chunked\r\n\r\n"
                + r.choice(
                    [
                        b"zz\r\nx\r\n0\r\n\r\n",
                        b"1\r\nxx\r\n0\r\n\r\n",
                        b"-1\r\nx\r\n0\r\n\r\n",
                        b"fffffffffffffffffff\r\n",
                    ]
                )
            )
            return Exchange("protocol.bad_chunks", [], raw=raw + b"\r\n", malformed=True)
        if how == 3:  # valid chunking: an ordinary answer
            raw = head + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n"
            return Exchange("protocol.chunked", [junk], raw=raw)
        if how == 4:  # chunked, never finished, then hung up
            return Exchange(
                "protocol.chunks_hang_up", [], raw=head + b"Transfer-Encoding: chunked\r\n\r\n5\r\nab", hang_up=True
            )
        if how == 5:  # Content-Length and Transfer-Encoding together (a smuggling shape)
            raw = head + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
            return Exchange("protocol.cl_te", [], raw=raw, malformed=True)
        if how == 6:  # header flood: many headers
            flood = [(f"X-Flood-{n}".encode(), b"v" * 20) for n in range(r.choice([100, 500]))]
            return Exchange(
                "protocol.header_count", [Request("protocol", "POST", junk.path, junk.headers + flood, b"x")]
            )
        if how == 7:  # one huge header
            big = [(b"X-Big", b"v" * r.choice([8_000, 60_000]))]
            return Exchange(
                "protocol.header_size",
                [Request("protocol", "POST", junk.path, junk.headers + big, b"x")],
                malformed=True,
            )
        if how == 8:  # slowloris that finishes: trickled, then answered
            return Exchange("protocol.slowloris", [junk], pieces=r.choice([5, 10]), pause=0.05)
        if how == 9:  # slowloris that gives up mid-body
            return Exchange(
                "protocol.slow_hang_up",
                [],
                raw=head + b"Content-Length: 100\r\n\r\n" + b"{" * 20,
                pieces=4,
                pause=0.05,
                hang_up=True,
            )
        if how == 10:  # pipelining: several requests in one write, answered in order
            parts = [self.signed().requests[0] if r.random() < 0.5 else junk for _ in range(r.randint(2, 5))]
            return Exchange("protocol.pipelined", parts)
        if how == 11:  # not HTTP at all
            raw = r.choice(
                [
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                    b"GET / HTTP/9.9\r\n\r\n",
                    b"\r\n\r\n\r\n",
                    b"POST /webhooks/stripe HTTP/1.1\r\nHost h\r\n\r\n",
                    b"\x00" * 64,
                ]
            )
            return Exchange("protocol.not_http", [], raw=raw, malformed=True)
        if how == 12:  # a body longer than declared: the rest is a second, bad request
            raw = head + b"Content-Length: 1\r\n\r\nxGARBAGE\r\n\r\n"
            return Exchange("protocol.long_body", [], raw=raw, malformed=True)
        odd = r.choice(
            [
                ("DELETE", "/webhooks/stripe"),
                ("GET", "/webhooks/stripe/tok"),
                ("POST", "/" + "a" * 20_000),
                ("POST", "http://evil.test/webhooks/stripe"),
                ("OPTIONS", "*"),
                ("PATCH", "/metrics"),
                ("POST", "/webhooks/stripe/"),
                ("POST", "/webhooks//stripe"),
                ("POST", "/webhooks/stripe/a/b"),
            ]
        )
        return Exchange("protocol.odd_request", [Request("protocol", odd[0], odd[1], [], b"{}")], malformed=True)

    def read(self) -> Exchange:
        r = self.rng
        path = r.choice(READ_PATHS)
        i, kit = self._kit()
        key = r.choice(
            [kit.tenant["api_key"], kit.tenant["api_key"] + "x", "", "sk_" + "a" * 5000, "' OR 1=1 --", None]
        )
        values = [
            "2026-01-01",
            "2026-13-01",
            "infinity",
            "-1",
            "0",
            "10000000000",
            "abc",
            "'; DROP TABLE x; --",
            "%00",
            "٣",
            "2026-01-01T00:00:00Z",
            "1e10",
            "",
            "x" * 3000,
        ]
        params = [
            (r.choice(["from", "to", "limit", "offset", "tenant_id", "status", "zzz"]), r.choice(values))
            for _ in range(r.randint(0, 4))
        ]
        query = "&".join(f"{k}={v.replace('&', '%26').replace(' ', '%20').replace('#', '%23')}" for k, v in params)
        headers = [] if key is None else [(b"X-Skeldir-Tenant-Key", key.encode())]
        method = r.choice(["GET"] * 9 + ["POST"])
        target = path + ("?" + query if query else "")
        return Exchange("read", [Request("read", method, target, headers, b"")])


# -- the ledger --------------------------------------------------------------------------


@dataclass
class Ledger:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def answers(self) -> list[Answer]:
        return [a for o in self.outcomes for a in o.answers]

    def summary(self) -> dict[str, Any]:
        statuses = Counter(a.status for a in self.answers)
        outcomes = Counter(a.json().get("status") for a in self.answers if a.request and a.request.vendor)
        kinds = Counter(o.exchange.kind.split(".")[0] for o in self.outcomes)
        return {
            "exchanges": len(self.outcomes),
            "answers": len(self.answers),
            "by_kind": dict(kinds),
            "statuses": dict(sorted(statuses.items(), key=lambda kv: str(kv[0]))),
            "outcomes": dict(outcomes),
        }

    def problems(self) -> list[str]:
        """What the answers alone show: no 5xx, nothing unanswered, no store for the unaddressed."""
        found = []
        for o in self.outcomes:
            if o.error:
                found.append(f"{o.exchange.kind}: {o.error}")
            for a in o.answers:
                if a.status is not None and a.status >= 500:
                    found.append(f"{o.exchange.kind}: {a.status} {a.body[:200]!r}")
                elif o.exchange.malformed and a.status is not None and not 400 <= a.status < 500 and a.request is None:
                    found.append(f"{o.exchange.kind}: malformed bytes answered {a.status}")
                if a.request is not None and a.request.tenant is None and a.json().get("status") in STORING:
                    found.append(f"{o.exchange.kind}: unaddressed request answered {a.json()}")
        return found

    def expected(self) -> dict[int, dict[str, Any]]:
        """Per run tenant: what the answers claim the database holds."""
        claims: dict[int, dict[str, Any]] = defaultdict(
            lambda: {"events": set(), "duplicates": set(), "dead": set(), "ignored": 0, "unauthorized": 0}
        )
        for a in self.answers:
            if a.request is None or a.request.tenant is None or a.request.vendor is None:
                continue
            c, doc = claims[a.request.tenant], a.json()
            if a.status == 401:
                c["unauthorized"] += 1
            elif doc.get("status") == "accepted":
                c["events"] |= set(doc.get("event_ids") or [doc["event_id"]])
            elif doc.get("status") == "duplicate":
                c["duplicates"] |= set(doc.get("event_ids") or [doc["event_id"]])
            elif doc.get("status") == "dead_lettered":
                c["dead"].add(doc["dead_event_id"])
            elif doc.get("status") == "ignored":
                c["ignored"] += 1
        return claims


def database_truth(admin_dsn: str, tenant_ids: list[str]) -> dict[int, dict[str, Any]]:
    """The same per-tenant figures, read from the tables as the superuser."""
    truth: dict[int, dict[str, Any]] = {}
    with psycopg.connect(admin_dsn) as conn:
        for i, tenant_id in enumerate(tenant_ids):
            events = {
                r[0]
                for r in conn.execute("SELECT id FROM skeldir.attribution_events WHERE tenant_id = %s", [tenant_id])
            }
            dead = {r[0] for r in conn.execute("SELECT id FROM skeldir.dead_letters WHERE tenant_id = %s", [tenant_id])}
            counts = dict(
                conn.execute(
                    "SELECT outcome, sum(count)::bigint FROM skeldir.ingest_counters"
                    " WHERE tenant_id = %s GROUP BY outcome",
                    [tenant_id],
                ).fetchall()
            )
            truth[i] = {
                "events": events,
                "dead": dead,
                "ignored": counts.get("ignored", 0),
                "unauthorized": counts.get("unauthorized", 0),
            }
    return truth


def reconcile(claims: dict[int, dict[str, Any]], truth: dict[int, dict[str, Any]]) -> list[str]:
    """Every difference between what the answers claim and what the database holds."""
    found = []
    for i, t in truth.items():
        c = claims.get(i, {"events": set(), "duplicates": set(), "dead": set(), "ignored": 0, "unauthorized": 0})
        if c["events"] != t["events"]:
            found.append(
                f"tenant {i}: events stored {len(t['events'])}, accepted {len(c['events'])}; "
                f"unclaimed {sorted(t['events'] - c['events'])[:5]}, missing {sorted(c['events'] - t['events'])[:5]}"
            )
        if not c["duplicates"] <= t["events"]:
            found.append(f"tenant {i}: duplicates of events not stored: {sorted(c['duplicates'] - t['events'])[:5]}")
        if c["dead"] != t["dead"]:
            found.append(f"tenant {i}: dead letters stored {len(t['dead'])}, dead_lettered answers {len(c['dead'])}")
        for counter in ("ignored", "unauthorized"):
            if c[counter] != t[counter]:
                found.append(f"tenant {i}: {counter} counted {t[counter]}, answered {c[counter]}")
    return found


async def run(host: str, port: int, exchanges: Iterator[Exchange], concurrency: int, timeout: float) -> Ledger:
    """Sends the exchanges, ``concurrency`` connections at a time; made lazily, in one sequence
    (the same for a seed whatever the timing), and kept without their bodies."""
    ledger = Ledger()

    async def worker() -> None:
        for ex in exchanges:
            outcome = await run_exchange(host, port, ex, timeout)
            ex.raw = None if ex.raw is None else ex.raw[:200]
            for request in ex.requests:
                request.body = request.body[:200]
            ledger.outcomes.append(outcome)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ledger
