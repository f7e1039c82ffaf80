"""The shell's /metrics and the middleware that feeds it and writes one log line per request.

Label values are bounded by construction: the route TEMPLATE (never the raw path, which can
carry an endpoint token), the HTTP method from a fixed set, the status code, the vendor
from SPEC §5's list and the outcome from the set ``api.webhook_receive`` returns. Tenant
ids, request ids and emails never become labels (tests/test_metrics_cardinality.py).

Queue gauges are broker truth: ``api.queue_metrics()`` reads pgmq at most once per
``QUEUE_METRICS_TTL``. When that read fails, /metrics still answers with the last good
values and ``skeldir_queue_metrics_refresh_errors_total`` goes up. The shell has no task
metrics: those live on the worker's exporter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("skeldir.shell.request")
metrics_log = logging.getLogger("skeldir.shell.metrics")

QUEUE_METRICS_TTL = 5.0
VENDORS = frozenset({"shopify", "stripe", "paypal", "woocommerce", "standard"})
OUTCOMES = frozenset(
    {
        "accepted",
        "duplicate",
        "dead_lettered",
        "ignored",
        "unauthorized",
        "unknown_vendor",
        "payload_too_large",
        "request_timeout",
        "unavailable",
        "client_disconnect",
        "error",
    }
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GROUP_COMMIT_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class QueueSample:
    depth: int
    visible: int
    oldest_age_seconds: int
    sent_total: int


class QueueCollector(Collector):
    """Exposes the last good pgmq reading; never touches the database itself."""

    def __init__(self) -> None:
        self.samples: dict[str, QueueSample] = {}

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("skeldir_queue_depth", "Messages in the queue, visible or not", labels=["queue"])
        visible = GaugeMetricFamily("skeldir_queue_visible_depth", "Messages a reader could take now", labels=["queue"])
        oldest = GaugeMetricFamily(
            "skeldir_queue_oldest_message_age_seconds", "Age of the oldest message in the queue", labels=["queue"]
        )
        sent = CounterMetricFamily("skeldir_queue_messages_sent", "Messages ever sent to the queue", labels=["queue"])
        for queue, s in sorted(self.samples.items()):
            depth.add_metric([queue], s.depth)
            visible.add_metric([queue], s.visible)
            oldest.add_metric([queue], s.oldest_age_seconds)
            sent.add_metric([queue], s.sent_total)
        yield from (depth, visible, oldest, sent)


class ShellMetrics:
    """The shell's registry. One per app, so that tests can build several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "skeldir_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "skeldir_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            "skeldir_webhook_outcomes",
            "Webhook deliveries by vendor and outcome",
            ["vendor", "outcome"],
            registry=self.registry,
        )
        self.group_commit = Histogram(
            "skeldir_group_commit_batch_size",
            "Webhook deliveries per ingest call of the shell's group commit (1: the delivery went alone)",
            buckets=GROUP_COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.client_disconnects = Counter(
            "skeldir_http_client_disconnects",
            "Requests whose client went away before the request was read whole (nobody was answered)",
            ["route"],
            registry=self.registry,
        )
        self.refresh_errors = Counter(
            "skeldir_queue_metrics_refresh_errors",
            "Failed reads of the pgmq queue metrics (the last good values are served)",
            registry=self.registry,
        )
        self.refresh_success = Counter(
            "skeldir_queue_metrics_refreshes",
            "Successful reads of the pgmq queue metrics",
            registry=self.registry,
        )
        self.queues = QueueCollector()
        self.registry.register(self.queues)
        # Labelled children by label values: ``labels()`` validates and locks on every call,
        # a dict lookup is enough once a combination is known (the label sets are bounded).
        self._http: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._webhooks: dict[tuple[str, str], Counter] = {}
        self._checked_at = -QUEUE_METRICS_TTL
        self._lock = asyncio.Lock()

    async def refresh_queues(self, pool: AsyncConnectionPool, ttl: float = QUEUE_METRICS_TTL) -> None:
        """Reads pgmq through api.queue_metrics() unless the last attempt is younger than ttl."""
        async with self._lock:
            if time.monotonic() - self._checked_at < ttl:
                return
            self._checked_at = time.monotonic()
            try:
                async with pool.connection(timeout=1.0) as conn:
                    cur = await conn.execute(
                        "SELECT queue_name, depth, visible, oldest_age_seconds, sent_total FROM api.queue_metrics()"
                    )
                    rows = await cur.fetchall()
            except (psycopg.Error, PoolTimeout, OSError) as exc:
                self.refresh_errors.inc()
                metrics_log.warning("queue metrics refresh failed", extra={"error": type(exc).__name__})
                return
            self.queues.samples = {row[0]: QueueSample(*row[1:]) for row in rows}
            self.refresh_success.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def disconnected(self, scope: Scope) -> None:
        """A client that left mid-request: not a request answered, so no status and no latency."""
        self.client_disconnects.labels(route_template(scope)).inc()
        state = scope.get("state") or {}
        vendor = state.get("vendor")
        if vendor is not None:
            self.webhooks.labels(vendor if vendor in VENDORS else "unknown", "client_disconnect").inc()

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope.get("method", "OTHER")
        method = method if method in METHODS else "OTHER"
        route = route_template(scope)
        http = self._http.get((method, route, status))
        if http is None:
            http = self._http[method, route, status] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        http[0].inc()
        http[1].observe(seconds)
        state = scope.get("state") or {}
        vendor = state.get("vendor")
        if vendor is not None:
            key = (vendor if vendor in VENDORS else "unknown", webhook_outcome(state, status))
            webhook = self._webhooks.get(key)
            if webhook is None:
                webhook = self._webhooks[key] = self.webhooks.labels(*key)
            webhook.inc()


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def webhook_outcome(state: dict, status: int) -> str:
    outcome = state.get("outcome")
    if outcome is None:
        outcome = {408: "request_timeout", 413: "payload_too_large", 503: "unavailable"}.get(status, "error")
    return outcome if outcome in OUTCOMES else "error"


class ObserveMiddleware:
    """Counts and times every request, tags it with a request id, logs one JSON line for it."""

    def __init__(self, app: ASGIApp, metrics: ShellMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or new_request_id()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        disconnected = False
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away while its body was being read: the client's doing, not a
            # server error, and there is nobody left to answer (issue 18 §4).
            disconnected = True
        finally:
            seconds = time.perf_counter() - started
            if disconnected:
                self.metrics.disconnected(scope)
            else:
                self.metrics.observe(scope, status, seconds)
            state = scope.get("state") or {}
            fields: dict[str, object] = {
                "request_id": request_id,
                "method": scope.get("method"),
                "route": route_template(scope),
                "status": None if disconnected else status,
                "latency_ms": round(seconds * 1000, 3),
            }
            if state.get("tenant_id") is not None:
                fields["tenant_id"] = str(state["tenant_id"])
            if state.get("vendor") is not None:
                fields["vendor"] = state["vendor"] if state["vendor"] in VENDORS else "unknown"
                fields["outcome"] = "client_disconnect" if disconnected else webhook_outcome(state, status)
            elif disconnected:
                fields["outcome"] = "client_disconnect"
            log.info("request", extra=fields)


def new_request_id() -> str:
    """``uuid.uuid4().hex``, without building a UUID object (a third of the cost)."""
    n = int.from_bytes(os.urandom(16)) & ~(0xC000 << 48 | 0xF000 << 64) | (0x8000 << 48 | 0x4000 << 64)
    return f"{n:032x}"


def incoming_request_id(scope: Scope) -> str | None:
    """A caller's X-Request-Id, only if it is a short plain token (it is logged)."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if REQUEST_ID.fullmatch(text) else None
    return None
