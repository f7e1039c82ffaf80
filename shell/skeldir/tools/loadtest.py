"""``skeldir loadtest``: signed mixed webhook traffic with anti-bypass accounting (SPEC §10).

The harness creates fresh tenants, pre-signs every delivery right before the run (Stripe
signatures carry a timestamp with a 300 s tolerance), counts the tenants' rows through the
tenant-scoped ``api`` views before and after, sends the traffic, and fails unless the
database deltas match the responses exactly:

- requests sent = responses received, zero connection errors, zero timeouts, zero 5xx;
- ``accepted`` responses = new canonical events (so duplicates added no rows);
- ``dead_lettered`` responses = new dead letters.

Two generators, neither of which is the shell's bottleneck:
- ``--rate R --duration S``: an open-loop asyncio client over keep-alive connections;
- ``--max``: ``wrk`` replaying the pre-signed requests from a file through a Lua script
  (``bench/wrk/replay.lua``), each request exactly once, flat out.

``--ceiling S`` first runs pgbench for S seconds against ``api.webhook_receive`` itself
(``bench/pgbench/*.sql``, same payload shapes and mix, as app_user) and reports the shell's
rate as a fraction of that ceiling, measured in the same run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import psycopg

from skeldir.config import PROJECT_DIR
from skeldir.ops import admin

BENCH_DIR = PROJECT_DIR / "bench"
ENDPOINT_ROUTE = "/webhooks/{vendor}/{endpoint_token}"

# -- payloads and signers (one entry per vendor; vendors plug in here) -------------------


@dataclass(frozen=True)
class Delivery:
    """One pre-signed HTTP request and the class the generator meant it to be."""

    vendor: str
    kind: str  # new | duplicate | malformed
    path: str
    headers: dict[str, str]
    body: bytes


def stripe_body(event_id: str, created: int, rng: random.Random) -> dict[str, Any]:
    """A realistic payment_intent.succeeded event (shape of Stripe's API, 2024 versions)."""
    amount = rng.choice((1299, 2500, 4999, 12000, 89900))
    source, medium = rng.choice((("google", "cpc"), ("facebook", "paid_social"), ("newsletter", "email"), ("", "")))
    metadata = {"order_id": str(rng.randrange(1000, 10**9))}
    if source:
        metadata.update(utm_source=source, utm_medium=medium, utm_campaign="winter-sale")
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "type": "payment_intent.succeeded",
        "created": created,
        "livemode": False,
        "data": {
            "object": {
                "id": f"pi_{uuid.uuid4().hex[:24]}",
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "currency": "usd",
                "status": "succeeded",
                "receipt_email": f"buyer{rng.randrange(10**6)}@example.com",
                "metadata": metadata,
            }
        },
    }


def stripe_malformed(event_id: str, created: int, rng: random.Random) -> bytes:
    """Signed but unmappable: truncated JSON, or a payment without its amount."""
    doc = stripe_body(event_id, created, rng)
    if rng.random() < 0.5:
        return compact(doc)[:-17]
    del doc["data"]["object"]["amount"], doc["data"]["object"]["amount_received"]
    return compact(doc)


def stripe_sign(body: bytes, secret: str, now: int, delivery_id: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={now},v1={digest}"}


def truncated(build: Callable[[str, int, random.Random], dict[str, Any]]) -> Callable[..., bytes]:
    """Signed but not JSON: the vendor's document cut short."""
    return lambda event_id, created, rng: compact(build(event_id, created, rng))[:-9]


def b64_hmac(key: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def shopify_body(event_id: str, created: int, rng: random.Random) -> dict[str, Any]:
    """orders/create; order ids exceed 2^53 and money is a decimal string, as Shopify sends them."""
    return {
        "id": 2**60 + rng.randrange(10**12),
        "email": f"buyer{rng.randrange(10**6)}@example.com",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(created)),
        "currency": "USD",
        "total_price": rng.choice(("19.99", "49.00", "120.50")),
        "landing_site": "/products/a?utm_source=facebook&utm_medium=social&utm_campaign=spring",
        "referring_site": "https://www.facebook.com/",
        "source_name": "web",
        "note_attributes": [],
    }


def shopify_sign(body: bytes, secret: str, now: int, delivery_id: str) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": b64_hmac(secret.encode(), body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": delivery_id,
        "X-Shopify-Shop-Domain": "load.example",
    }


def woocommerce_body(event_id: str, created: int, rng: random.Random) -> dict[str, Any]:
    """A completed order; WooCommerce dedupes on resource id + topic + modified time."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return {
        "id": int(hashlib.sha256(event_id.encode()).hexdigest()[:12], 16),
        "status": "completed",
        "currency": "EUR",
        "total": rng.choice(("9.90", "49.90", "250.00")),
        "date_created_gmt": stamp,
        "date_modified_gmt": stamp,
        "date_completed_gmt": stamp,
        "billing": {"first_name": "Ana", "email": "ana@example.com"},
        "meta_data": [
            {"id": 1, "key": "_wc_order_attribution_utm_source", "value": "newsletter"},
            {"id": 2, "key": "_wc_order_attribution_utm_medium", "value": "email"},
        ],
        "refunds": [],
    }


def woocommerce_sign(body: bytes, secret: str, now: int, delivery_id: str) -> dict[str, str]:
    return {
        "X-WC-Webhook-Signature": b64_hmac(html.unescape(secret).encode(), body),
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }


def standard_body(event_id: str, created: int, rng: random.Random) -> dict[str, Any]:
    """Skeldir's canonical event JSON, as a custom store sends it over Standard Webhooks."""
    return {
        "type": "order.created",
        "order_ref": f"o-{event_id}",
        "amount": rng.choice(("12.34", "99.00")),
        "currency": "USD",
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "attribution": {"utm_source": "google", "utm_medium": "cpc"},
        "customer_email": "c@example.com",
    }


def standard_sign(body: bytes, secret: str, now: int, delivery_id: str) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{delivery_id}.{now}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(now),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


@dataclass(frozen=True)
class VendorProfile:
    """How to build and sign deliveries of one vendor."""

    event_id: Callable[[str], str]
    body: Callable[[str, int, random.Random], dict[str, Any]]
    malformed: Callable[[str, int, random.Random], bytes]
    sign: Callable[[bytes, str, int, str], dict[str, str]]  # body, secret, now, delivery id


# PayPal is not here yet: its deliveries need an RSA key whose certificate is pinned on the
# tenant (api.tenant_secret_set) and are verified in the shell, not by an HMAC.
VENDORS: dict[str, VendorProfile] = {
    "stripe": VendorProfile(lambda u: f"evt_{u}", stripe_body, stripe_malformed, stripe_sign),
    "shopify": VendorProfile(lambda u: f"whk-{u}", shopify_body, truncated(shopify_body), shopify_sign),
    "woocommerce": VendorProfile(lambda u: f"wc-{u}", woocommerce_body, truncated(woocommerce_body), woocommerce_sign),
    "standard": VendorProfile(lambda u: f"msg_{u}", standard_body, truncated(standard_body), standard_sign),
}


def compact(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Mix:
    new: float = 0.70
    duplicate: float = 0.15
    malformed: float = 0.15

    @classmethod
    def parse(cls, text: str) -> Mix:
        """``70,15,15`` -> shares of new, duplicate and malformed deliveries."""
        parts = [float(p) for p in text.split(",")]
        if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
            raise ValueError(f"--mix wants three non-negative numbers NEW,DUP,BAD, got {text!r}")
        total = sum(parts)
        return cls(*(p / total for p in parts))


def build_deliveries(
    tenants: list[dict], vendors: list[str], count: int, mix: Mix, seed: int = 7, now: int | None = None
) -> list[Delivery]:
    """``count`` signed deliveries spread over tenants and vendors, in the given mix.

    A duplicate re-sends an earlier valid delivery byte for byte (a sender's retry); when
    none exists yet it becomes a new one. Signatures are made with ``now`` (default: now).
    """
    rng = random.Random(seed)
    stamp = int(time.time()) if now is None else now
    run = uuid.uuid4().hex[:10]
    sent_valid: list[Delivery] = []
    out: list[Delivery] = []
    for i in range(count):
        tenant = tenants[i % len(tenants)]
        vendor = vendors[(i // len(tenants)) % len(vendors)]
        profile = VENDORS[vendor]
        roll = rng.random()
        if roll < mix.duplicate and sent_valid:
            original = sent_valid[rng.randrange(len(sent_valid))]
            out.append(Delivery(original.vendor, "duplicate", original.path, original.headers, original.body))
            continue
        event_id = profile.event_id(f"{run}{i:08d}")
        if roll < mix.duplicate + mix.malformed:
            kind, body = "malformed", profile.malformed(event_id, stamp, rng)
        else:
            kind, body = "new", compact(profile.body(event_id, stamp, rng))
        path = urlsplit(tenant["endpoints"][vendor]).path
        signed = profile.sign(body, tenant["secrets"][vendor], stamp, event_id)
        headers = {"Content-Type": "application/json", **signed}
        delivery = Delivery(vendor, kind, path, headers, body)
        if kind == "new":
            sent_valid.append(delivery)
        out.append(delivery)
    return out


# -- accounting ---------------------------------------------------------------------------


def count_rows(dsn: str, tenant_ids: list[str]) -> dict[str, int]:
    """Events and dead letters of the given tenants, read through the tenant-scoped views."""
    totals = {"events": 0, "dead_letters": 0}
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        for tenant_id in tenant_ids:
            with conn.transaction():
                conn.execute("SELECT api.tenant_set(%s)", [tenant_id])
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM api.events), (SELECT count(*) FROM api.dead_letters)"
                ).fetchone()
            assert row is not None
            totals["events"] += row[0]
            totals["dead_letters"] += row[1]
    return totals


class GucProbe:
    """Concurrent cross-tenant probe, on the same DSN as the shell (through PgBouncer when it is).

    Over and over, on one connection that the pooler shares with the shell's transactions:
    - outside any transaction, ``api.events`` must show zero rows: a tenant GUC left behind
      by any earlier transaction on that server connection would show that tenant's events;
    - inside a transaction scoped to an empty probe tenant, it must show zero rows too,
      while the load tenants' events pile up.
    """

    def __init__(self, dsn: str, tenant_id: str) -> None:
        self.dsn = dsn
        self.tenant_id = tenant_id
        self.checks = 0
        self.leaks: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None) as conn:
                # 20 rounds/s: thousands of checks per run without stealing the generator's GIL.
                while not self._stop.wait(0.05):
                    row = conn.execute("SELECT count(*) FROM api.events").fetchone()
                    if row and row[0] != 0:
                        self.leaks.append(f"{row[0]} events visible without a tenant")
                    with conn.transaction():
                        conn.execute("SELECT api.tenant_set(%s)", [self.tenant_id])
                        row = conn.execute("SELECT count(*) FROM api.events").fetchone()
                    if row and row[0] != 0:
                        self.leaks.append(f"{row[0]} foreign events visible to the probe tenant")
                    self.checks += 2
        except psycopg.Error as exc:
            self.errors.append(f"probe failed: {exc.sqlstate} {str(exc).strip()[:200]}")

    def __enter__(self) -> GucProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, Any]:
        return {"checks": self.checks, "leaks": len(self.leaks), "samples": self.leaks[:5], "errors": self.errors}


class QueueLag:
    """Peak age of the oldest attribution task while the load runs: does the worker keep up?"""

    def __init__(self, dsn: str, queue: str = "attribution") -> None:
        self.dsn = dsn
        self.queue = queue
        self.peak_age_s: float | None = None
        self.peak_length = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None) as conn:
                while not self._stop.wait(1.0):
                    row = conn.execute(
                        "SELECT depth, oldest_age_seconds FROM api.queue_metrics() WHERE queue_name = %s", [self.queue]
                    ).fetchone()
                    if row:
                        self.peak_length = max(self.peak_length, row[0] or 0)
                        self.peak_age_s = max(self.peak_age_s or 0, row[1] or 0)
        except psycopg.Error as exc:
            self.error = f"{exc.sqlstate} {str(exc).strip()[:200]}"

    def __enter__(self) -> QueueLag:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def accounting_failures(result: dict[str, Any]) -> list[str]:
    """Every way the run could have bypassed, lost or double-stored a delivery."""
    outcomes: dict[str, int] = result["outcomes"]
    statuses: dict[str, int] = result["statuses"]
    delta = result["db_delta"]
    failures = []
    if result["sent"] != result["received"]:
        failures.append(f"sent {result['sent']} != received {result['received']}")
    if result["errors"]:
        failures.append(f"{result['errors']} connection errors")
    if result["timeouts"]:
        failures.append(f"{result['timeouts']} timeouts")
    server_errors = sum(n for code, n in statuses.items() if int(code) >= 500)
    if server_errors:
        failures.append(f"{server_errors} responses with status 5xx")
    if outcomes.get("accepted", 0) != delta["events"]:
        failures.append(f"accepted {outcomes.get('accepted', 0)} != new events {delta['events']}")
    if outcomes.get("dead_lettered", 0) != delta["dead_letters"]:
        failures.append(f"dead_lettered {outcomes.get('dead_lettered', 0)} != new dead letters {delta['dead_letters']}")
    unexpected = {k: n for k, n in outcomes.items() if k not in ("accepted", "duplicate", "dead_lettered")}
    if unexpected:
        failures.append(f"unexpected outcomes {unexpected}")
    probe = result.get("guc_probe")
    if probe and (probe["leaks"] or probe["errors"] or not probe["checks"]):
        failures.append(
            f"cross-tenant probe: {probe['leaks']} leaks, errors {probe['errors']}, {probe['checks']} checks"
        )
    if result["sent"] != result["planned"]:
        failures.append(f"sent {result['sent']} of {result['planned']} planned deliveries")
    return failures


# -- the shell process: RSS, CPU and group commit ----------------------------------------

GROUP_COMMIT_METRIC = "skeldir_group_commit_batch_size"


def group_commit_totals(url: str) -> tuple[float, float] | None:
    """(deliveries, ingest calls) so far from the shell's /metrics group-commit histogram;
    None when the target serves no such metric (not a Skeldir shell, or unreachable)."""
    parts = urlsplit(url)
    try:
        with urlopen(f"{parts.scheme}://{parts.netloc}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (OSError, ValueError):
        return None
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in (f"{GROUP_COMMIT_METRIC}_sum", f"{GROUP_COMMIT_METRIC}_count"):
            values[name.rsplit("_", 1)[1]] = float(value)
    return (values["sum"], values["count"]) if len(values) == 2 else None


def group_commit_report(before: tuple[float, float] | None, after: tuple[float, float] | None) -> dict[str, Any]:
    """Ingest calls of the run and the mean deliveries per call (the batch size group commit reached)."""
    if before is None or after is None or after[1] <= before[1]:
        return {"calls": None, "mean_batch": None}
    calls = after[1] - before[1]
    return {"calls": int(calls), "mean_batch": round((after[0] - before[0]) / calls, 2)}


# -- the shell process: RSS and CPU -------------------------------------------------------


def listener_pid(port: int) -> int | None:
    """The pid of the local process listening on a TCP port (Linux /proc), if visible."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(pid_dir.name)
        except OSError:
            continue
    return None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ProcessSampler:
    """Peak RSS and CPU time of a process (the shell) while the load runs."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak_rss: float | None = rss_mb(pid) if pid else None
        self.cpu_start = cpu_seconds(pid) if pid else None
        self.cpu_used: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.pid and not self._stop.wait(0.25):
            value = rss_mb(self.pid)
            if value is not None:
                self.peak_rss = max(self.peak_rss or 0.0, value)

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.pid and self.cpu_start is not None:
            end = cpu_seconds(self.pid)
            self.cpu_used = None if end is None else end - self.cpu_start


class DatabaseCpu:
    """CPU time of the database backends during the run, by application_name (skeldir-shell,
    skeldir-worker, ...): where the time goes besides the shell process. Read from /proc, so
    only when the database runs on this machine (the embedded cluster); otherwise empty."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.start: dict[int, tuple[str, float]] = {}
        self.used: dict[str, float] = {}

    def _backends(self) -> dict[int, tuple[str, float]]:
        try:
            with psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None) as conn:
                rows = conn.execute(
                    "SELECT pid, coalesce(nullif(application_name, ''), backend_type, 'other')"
                    "  FROM pg_catalog.pg_stat_activity WHERE pid <> pg_catalog.pg_backend_pid()"
                ).fetchall()
        except psycopg.Error:
            return {}
        out = {}
        for pid, name in rows:
            cpu = cpu_seconds(pid)
            if cpu is not None:
                out[pid] = (name, cpu)
        return out

    def __enter__(self) -> DatabaseCpu:
        self.start = self._backends()
        return self

    def __exit__(self, *exc: object) -> None:
        for pid, (name, cpu) in self._backends().items():
            before = self.start.get(pid, (name, 0.0))[1]  # a backend started during the run: all of it
            self.used[name] = self.used.get(name, 0.0) + cpu - before


# -- generator 1: open-loop asyncio client at a fixed rate ---------------------------------

STATUS_RE = re.compile(rb'"status":\s*"([a-z_]+)"')


def raw_request(host: str, d: Delivery) -> bytes:
    head = [f"POST {d.path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(d.body)}"]
    head += [f"{k}: {v}" for k, v in d.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + d.body


@dataclass
class Tally:
    sent: int = 0
    received: int = 0
    errors: int = 0
    timeouts: int = 0
    statuses: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    def record(self, status: int, body: bytes) -> None:
        self.received += 1
        self.statuses[str(status)] += 1
        match = STATUS_RE.search(body)
        self.outcomes[match.group(1).decode() if match else "unparsed"] += 1


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == "content-length:":
            length = int(line[15:].strip())
    return status, await reader.readexactly(length)


async def run_rate(url: str, deliveries: list[Delivery], rate: float, connections: int, timeout: float) -> Tally:
    """Sends deliveries[i] at t0 + i/rate over keep-alive connections (open loop)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tally = Tally()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def connection() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while (item := await queue.get()) is not None:
            _, payload = item
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                assert reader is not None
                start = time.perf_counter()
                writer.write(payload)
                tally.sent += 1
                status, body = await asyncio.wait_for(read_response(reader), timeout)
                tally.latencies_ms.append((time.perf_counter() - start) * 1000)
                tally.record(status, body)
            except TimeoutError:
                tally.timeouts += 1
                writer, reader = _drop(writer), None
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.errors += 1
                if len(tally.error_samples) < 5:
                    tally.error_samples.append(repr(exc))
                writer, reader = _drop(writer), None
        _drop(writer)

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, d in enumerate(deliveries):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, raw_request(f"{host}:{port}", d)))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return tally


def run_loop(coro: Coroutine[Any, Any, Tally]) -> Tally:
    """uvloop when installed (it is, with uvicorn[standard]): less generator CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _drop(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


# -- generator 2: wrk replaying pre-signed requests flat out --------------------------------


def write_wrk_requests(deliveries: list[Delivery], path: Path) -> None:
    """One request per line: path TAB header-name: value (|-separated) TAB body."""
    with path.open("wb") as out:
        for d in deliveries:
            pairs = [f"{k}: {v}" for k, v in d.headers.items()]
            headers = "|".join(pairs)
            if b"\n" in d.body or b"\t" in d.body or any(c in p for p in pairs for c in "|\t\n"):
                raise ValueError("a delivery cannot be encoded for wrk (newline, tab or | in it)")
            out.write(d.path.encode() + b"\t" + headers.encode() + b"\t" + d.body + b"\n")


def run_wrk(url: str, deliveries: list[Delivery], connections: int, threads: int, limit: float) -> tuple[Tally, dict]:
    """Each pre-signed request exactly once; stops when every thread has all its answers."""
    threads = max(1, min(threads, connections))
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="skeldir-wrk-") as tmp:
        requests_file = Path(tmp) / "requests.tsv"
        write_wrk_requests(deliveries, requests_file)
        command = [
            "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(limit)}s", "--timeout", f"{int(limit)}s",
            "-s", str(BENCH_DIR / "wrk" / "replay.lua"), url, "--", str(requests_file), str(threads),
        ]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first_go: float | None = None
        done_at: list[float] = []
        summary: dict[str, Any] = {}
        for line in proc.stdout:
            if line.startswith("go "):
                first_go = first_go or time.monotonic()
            elif line.startswith("done "):
                done_at.append(time.monotonic())
                if len(done_at) == threads:
                    proc.send_signal(signal.SIGINT)  # wrk's sleep(duration) ends; threads are idle
            elif line.startswith("summary "):
                summary = json.loads(line[len("summary ") :])
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not summary:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {stderr.strip()[-500:]}")
    tally.sent = summary["sent"]
    tally.received = summary["received"]
    tally.errors = summary["errors"]["connect"] + summary["errors"]["read"] + summary["errors"]["write"]
    tally.timeouts = tally.sent - tally.received if len(done_at) < threads else 0
    tally.statuses.update({str(k): v for k, v in summary["statuses"].items()})
    tally.outcomes.update(summary["outcomes"])
    elapsed = (done_at[-1] - first_go) if (first_go and len(done_at) == threads) else limit
    extra = {
        "elapsed_s": elapsed,
        "latency_ms": {k: v / 1000 for k, v in summary["latency_us"].items()},
        "generator_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }
    return tally, extra


# -- ceiling: pgbench against the SQL function ----------------------------------------------


def hmac_pads(secret: str) -> tuple[str, str]:
    """HMAC-SHA256 inner and outer padded keys, so SQL can sign with plain sha256()."""
    key = secret.encode()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def pgbench_templates(rng: random.Random) -> dict[str, str]:
    """format() templates of the generator's Stripe bodies; %1$s is the unique part of the id.

    The payment intent, order reference and customer email carry it too, as in the shell's
    deliveries: with one order reference shared by every ceiling event, each allocate task
    would reconcile the whole run's events, and the worker would fall behind on an artefact.
    """
    created = int(time.time())
    doc = stripe_body("evt_%1$s", created, rng)
    bad = stripe_body("evt_%1$s", created, rng)
    del bad["data"]["object"]["amount"], bad["data"]["object"]["amount_received"]
    for body in (doc, bad):
        obj = body["data"]["object"]
        obj.update(id="pi_%1$s", receipt_email="buyer-%1$s@example.com")
        obj["metadata"]["order_id"] = "o-%1$s"
    return {"body_new": compact(doc).decode(), "body_bad": compact(bad).decode()}


def run_ceiling(app_dsn: str, tenant: dict, seconds: int, clients: int, mix: Mix) -> dict[str, Any]:
    """TPS of api.webhook_receive called directly by pgbench as app_user, same mix and shapes."""
    ipad, opad = hmac_pads(tenant["secrets"]["stripe"])
    token = urlsplit(tenant["endpoints"]["stripe"]).path.rsplit("/", 1)[1]
    templates = pgbench_templates(random.Random(11))
    variables = {"ipad": ipad, "opad": opad, "token": token, "run": uuid.uuid4().hex[:10], **templates}
    scripts = BENCH_DIR / "pgbench"
    weights = {"stripe_new.sql": mix.new, "stripe_duplicate.sql": mix.duplicate, "stripe_malformed.sql": mix.malformed}
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
    for name, weight in weights.items():
        if weight > 0:
            command += ["-f", f"{scripts / name}@{max(1, round(weight * 100))}"]
    for key, value in variables.items():
        command += ["-D", f"{key}={value}"]
    result = subprocess.run([*command, app_dsn], capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", result.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"pgbench failed: {(result.stderr or result.stdout).strip()[-500:]}")
    latency = re.search(r"latency average = ([0-9.]+) ms", result.stdout)
    return {
        "tps": float(match.group(1)),
        "clients": clients,
        "seconds": seconds,
        "failed_transactions": int(failed.group(1)) if failed else 0,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
    }


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Options:
    url: str
    app_dsn: str
    migration_dsn: str
    rate: float = 46.0
    duration: float = 60.0
    flat_out: bool = False
    requests: int | None = None
    connections: int = 32
    threads: int = 2
    tenants: int = 4
    vendors: tuple[str, ...] = ("stripe",)
    mix: Mix = field(default_factory=Mix)
    ceiling_seconds: int = 0
    ceiling_clients: int = 8
    timeout: float = 10.0
    shell_pid: int | None = None
    seed: int = 7


def run(opts: Options) -> dict[str, Any]:
    unknown = [v for v in opts.vendors if v not in VENDORS]
    if unknown:
        raise ValueError(f"no load profile for vendor(s) {', '.join(unknown)}; have: {', '.join(VENDORS)}")
    label = f"loadtest {time.strftime('%Y%m%dT%H%M%S')} {uuid.uuid4().hex[:6]}"
    tenants = [admin.tenant_create(opts.migration_dsn, f"{label} #{i}", opts.url) for i in range(opts.tenants)]
    probe_tenant = admin.tenant_create(opts.migration_dsn, f"{label} probe", opts.url)
    ceiling = None
    if opts.ceiling_seconds:
        bench_tenant = admin.tenant_create(opts.migration_dsn, f"{label} ceiling", opts.url)
        ceiling = run_ceiling(opts.app_dsn, bench_tenant, opts.ceiling_seconds, opts.ceiling_clients, opts.mix)

    count = opts.requests or int(opts.rate * opts.duration)
    deliveries = build_deliveries(tenants, list(opts.vendors), count, opts.mix, seed=opts.seed)
    planned = Counter(d.kind for d in deliveries)
    tenant_ids = [t["tenant_id"] for t in tenants]
    before = count_rows(opts.app_dsn, tenant_ids)
    pid = opts.shell_pid or listener_pid(urlsplit(opts.url).port or 80)
    group_before = group_commit_totals(opts.url)

    with (
        DatabaseCpu(opts.app_dsn) as database_cpu,
        ProcessSampler(pid) as shell,
        GucProbe(opts.app_dsn, probe_tenant["tenant_id"]) as probe,
        QueueLag(opts.app_dsn) as lag,
    ):
        if opts.flat_out:
            limit = max(120.0, count / 50.0)  # wrk's -d: only a safety net, the run ends when all answered
            tally, extra = run_wrk(opts.url, deliveries, opts.connections, opts.threads, limit)
            elapsed, latency = extra["elapsed_s"], extra["latency_ms"]
            generator = {"tool": "wrk", "cpu_s": round(extra["generator_cpu_s"], 3)}
        else:
            cpu0, t0 = time.process_time(), time.perf_counter()
            tally = run_loop(run_rate(opts.url, deliveries, opts.rate, opts.connections, opts.timeout))
            elapsed = time.perf_counter() - t0
            generator = {"tool": "asyncio", "cpu_s": round(time.process_time() - cpu0, 3)}
            lat = sorted(tally.latencies_ms)
            latency = {
                "p50": percentile(lat, 50),
                "p95": percentile(lat, 95),
                "p99": percentile(lat, 99),
                "max": lat[-1] if lat else 0.0,
                "mean": statistics.fmean(lat) if lat else 0.0,
            }
    after = count_rows(opts.app_dsn, tenant_ids)
    group_commit = group_commit_report(group_before, group_commit_totals(opts.url))
    rate = tally.received / elapsed if elapsed > 0 else 0.0
    accepted_rate = tally.outcomes.get("accepted", 0) / elapsed if elapsed > 0 else 0.0
    generator["cores_used"] = round(generator["cpu_s"] / elapsed, 3) if elapsed > 0 else None
    generator["requests_per_cpu_second"] = round(tally.received / generator["cpu_s"]) if generator["cpu_s"] else None
    result: dict[str, Any] = {
        "mode": "max" if opts.flat_out else "rate",
        "target": opts.url,
        "target_rate": None if opts.flat_out else opts.rate,
        "tenants": opts.tenants,
        "tenant_ids": tenant_ids,
        "vendors": list(opts.vendors),
        "connections": opts.connections,
        "planned": count,
        "planned_kinds": dict(planned),
        "sent": tally.sent,
        "received": tally.received,
        "errors": tally.errors,
        "timeouts": tally.timeouts,
        "error_samples": tally.error_samples,
        "statuses": dict(tally.statuses),
        "outcomes": dict(tally.outcomes),
        "elapsed_s": round(elapsed, 3),
        "achieved_rate": round(rate, 1),
        "accepted_rate": round(accepted_rate, 1),
        "latency_ms": {k: round(v, 2) for k, v in latency.items()},
        "db_before": before,
        "db_after": after,
        "db_delta": {k: after[k] - before[k] for k in before},
        "shell_pid": pid,
        "shell_rss_peak_mb": None if shell.peak_rss is None else round(shell.peak_rss, 1),
        "shell_cores_used": None if shell.cpu_used is None else round(shell.cpu_used / elapsed, 3),
        "generator": generator,
        "group_commit": group_commit,
        # CPU per delivery sent, in ms: the shell process and the database backends by role.
        "cpu_ms_per_request": {
            name: round(1000 * seconds / tally.received, 3)
            for name, seconds in sorted(
                [("shell process", shell.cpu_used or 0.0), *((f"db {n}", v) for n, v in database_cpu.used.items())],
                key=lambda kv: -kv[1],
            )
            if tally.received and seconds >= 0.005
        },
        "ceiling": ceiling,
        "guc_probe": probe.report(),
        "queue_lag": {"peak_oldest_age_s": lag.peak_age_s, "peak_length": lag.peak_length, "error": lag.error},
        "ceiling_ratio": round(rate / ceiling["tps"], 3) if ceiling else None,
    }
    result["failures"] = accounting_failures(result)
    result["ok"] = not result["failures"]
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    lat = result["latency_ms"]
    lines = [
        f"{result['mode']} run against {result['target']}: sent {result['sent']}, received {result['received']}, "
        f"errors {result['errors']}, timeouts {result['timeouts']}",
        f"statuses {result['statuses']}  outcomes {result['outcomes']}",
        f"rate {result['achieved_rate']}/s (accepted {result['accepted_rate']}/s) over {result['elapsed_s']} s; "
        f"latency ms p50 {lat.get('p50')} p95 {lat.get('p95')} p99 {lat.get('p99')} max {lat.get('max')}",
        f"db delta {result['db_delta']}; shell rss peak {result['shell_rss_peak_mb']} MB, "
        f"shell cores {result['shell_cores_used']}, generator {result['generator']}",
        f"cross-tenant probe: {result['guc_probe']['checks']} checks, {result['guc_probe']['leaks']} leaks; "
        f"attribution queue peak age {result['queue_lag']['peak_oldest_age_s']} s, "
        f"peak length {result['queue_lag']['peak_length']}",
    ]
    if result["group_commit"]["calls"]:
        gc = result["group_commit"]
        lines.append(f"group commit: {gc['calls']} ingest calls, {gc['mean_batch']} deliveries per call on average")
    if result["cpu_ms_per_request"]:
        split = ", ".join(f"{name} {ms}" for name, ms in result["cpu_ms_per_request"].items())
        lines.append(f"cpu ms per request: {split}")
    if result["ceiling"]:
        c = result["ceiling"]
        lines.append(
            f"ceiling (pgbench, {c['clients']} clients): {c['tps']:.0f} tps; shell/ceiling {result['ceiling_ratio']}"
        )
    lines.append("accounting OK" if result["ok"] else "ACCOUNTING FAILED: " + "; ".join(result["failures"]))
    return lines
