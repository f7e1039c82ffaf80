"""The HTTP shell: moves raw webhook bytes to ``api.webhook_receive`` and its answer back.

It parses nothing the database can parse: the body goes to SQL as bytes, the headers as
a JSON object, and the SQL function's JSON answer is sent verbatim.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson
import psycopg
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from skeldir import logs
from skeldir.config import SHUTDOWN_GRACE, Settings, env
from skeldir.db import DatabaseUnreachable, IdentityError, assert_least_privilege, await_least_privilege, http_status_of
from skeldir.web import paypal, read_api
from skeldir.web.batching import Delivery, DeliveryTimeout, GroupCommit
from skeldir.web.llm_routes import routes as llm_routes
from skeldir.web.metrics import ObserveMiddleware, ShellMetrics
from skeldir.web.openapi import openapi_document
from skeldir.web.protocol import ShellProtocol
from skeldir.web.watchdog import WATCHDOG_MARGIN, Watchdog

log = logging.getLogger("skeldir.shell")

RETRY_AFTER = "5"
PROBE_WAIT = 2.0  # seconds /health/worker waits for a worker to answer its probe
PROBE_POLL = 0.05

# Predecessor paths (SPEC §5) -> vendor; they reach the same SQL function.
ALIASES = {
    "/api/webhooks/shopify/order_create": "shopify",
    "/api/webhooks/stripe/payment_intent/succeeded": "stripe",
    "/api/webhooks/stripe/payment_intent_succeeded": "stripe",
    "/api/webhooks/paypal/sale_completed": "paypal",
    "/api/webhooks/woocommerce/order_completed": "woocommerce",
}


@dataclass
class State:
    pool: AsyncConnectionPool
    settings: Settings
    metrics: ShellMetrics
    group: GroupCommit
    watchdog: Watchdog


class BodyTooLarge(Exception):
    pass


_pool_checks: set[asyncio.Task] = set()


def recheck_pool(pool: AsyncConnectionPool) -> None:
    """After a connection error, test every idle pooled connection in the background so that
    broken ones are replaced at once instead of each failing one request when the database
    is back (the pool reconnects by itself; this only makes it notice sooner)."""
    if pool.closed or any(not task.done() for task in _pool_checks):
        return  # closed: not open yet (the runtime identity is not checked) or shutting down
    task = asyncio.get_running_loop().create_task(pool.check())
    _pool_checks.add(task)
    task.add_done_callback(_pool_check_done)


def _pool_check_done(task: asyncio.Task) -> None:
    _pool_checks.discard(task)
    if not task.cancelled() and task.exception() is not None:  # retrieved: the pool closed meanwhile
        log.debug("pool check failed", extra={"error": type(task.exception()).__name__})


def unavailable(reason: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "reason": reason}, status_code=503, headers={"Retry-After": RETRY_AFTER}
    )


def declared_length(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"content-length":
            return value.decode("latin-1")
    return None


async def read_body(scope: Scope, receive: Receive, limit: int, timeout: float) -> bytes:
    """The raw body, refusing (without reading it all) anything over the limit, and raising
    TimeoutError when it has not arrived whole within ``timeout`` seconds (slowloris)."""
    declared = declared_length(scope["headers"])
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    async with asyncio.timeout(timeout):
        return await _read_chunks(receive, limit)


async def _read_chunks(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect  # ObserveMiddleware counts it; nobody is left to answer


def header_map(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-cased header names -> values (repeated headers joined with ', ').

    A client can never supply the shell's own PayPal attestation header: it is dropped here
    and only ``paypal.attest`` may add it.
    """
    merged: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if name == paypal.ATTESTATION_HEADER:
            continue
        value = raw_value.decode("latin-1")
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


async def ingest(state: State, scope: Scope, receive: Receive, vendor: str, route: str, token: str | None) -> Response:
    """One webhook delivery, reached through ``WebhookRoutes`` or the router alike."""
    scope.setdefault("state", {})["vendor"] = vendor
    try:
        body = await read_body(scope, receive, state.settings.max_body_bytes, state.settings.body_timeout)
    except BodyTooLarge:
        return JSONResponse(
            {"status": "payload_too_large", "limit_bytes": state.settings.max_body_bytes}, status_code=413
        )
    except TimeoutError:
        return JSONResponse(
            {"status": "request_timeout", "limit_seconds": state.settings.body_timeout},
            status_code=408,
            headers={"Connection": "close"},
        )
    headers = header_map(scope["headers"])
    deadline = state.watchdog.deadline()  # every wait below ends by then: 503 rather than never
    try:
        if vendor == "paypal":
            async with state.watchdog.bound(deadline), state.pool.connection() as conn:
                # pgcrypto has no RSA: the shell checks PayPal's signature against the pinned
                # certificates the database hands out, and attests it (see paypal.py).
                cur = await conn.execute(
                    "SELECT webhook_id, certificate FROM api.webhook_paypal_keys(%s, %s)",
                    [token, headers.get("x-skeldir-tenant-key")],
                )
                attestation = paypal.attest(headers, body, await cur.fetchall())
            if attestation is not None:
                headers[paypal.ATTESTATION_HEADER] = attestation
        # Group commit (batching.py): shares a transaction with concurrent deliveries.
        row = await state.group.receive(Delivery(vendor, route, orjson.dumps(headers).decode(), body, token), deadline)
    except (DeliveryTimeout, TimeoutError):
        log.warning("webhook %s not answered within its deadline", route, extra={"vendor": vendor})
        return unavailable("timeout")
    except PoolTimeout:
        return unavailable("database unavailable")
    except psycopg.Error as exc:
        status = http_status_of(exc)
        log.warning("webhook %s failed: sqlstate=%s %s", route, exc.sqlstate, type(exc).__name__)
        if status == 503:
            recheck_pool(state.pool)
            return unavailable("database unavailable")
        if status == 400:
            return JSONResponse({"status": "bad_request"}, status_code=400)
        return JSONResponse({"status": "error", "sqlstate": exc.sqlstate}, status_code=status)
    http_status, outcome, response = row
    scope["state"]["outcome"] = outcome
    return Response(response, status_code=http_status, media_type="application/json")


WEBHOOK_PREFIX = "/webhooks/"
WEBHOOK = "/webhooks/{vendor}"
WEBHOOK_TOKEN = "/webhooks/{vendor}/{endpoint_token}"


async def webhook(request: Request) -> Response:
    vendor = request.path_params["vendor"]
    token = request.path_params.get("endpoint_token")
    route = WEBHOOK_TOKEN if token else WEBHOOK
    return await ingest(request.app.state.skeldir, request.scope, request.receive, vendor, route, token)


class WebhookRoutes:
    """The two hot routes, answered without Starlette's router, Request and exception wrappers.

    Sits inside ``ObserveMiddleware`` (request id, metrics, log line) and in front of the
    router, which keeps the same two routes: a POST whose path is ``/webhooks/`` and one or
    two non-empty segments (what the routes' ``{param}`` matches) goes straight to
    ``ingest``; everything else (other methods: 405, a trailing slash: the redirect, a
    root_path) goes on to the router. Exceptions propagate exactly as from a route
    endpoint: no handler of ``ExceptionMiddleware`` applies to ``ingest``'s.
    """

    def __init__(self, app: ASGIApp, routes: dict[str, Route]) -> None:
        self.app = app
        self.plain = routes[WEBHOOK]
        self.token = routes[WEBHOOK_TOKEN]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path: str = scope["path"]
            if path.startswith(WEBHOOK_PREFIX):
                segments = path[len(WEBHOOK_PREFIX) :].split("/")
                if len(segments) <= 2 and all(segments):
                    route = self.token if len(segments) == 2 else self.plain
                    scope["route"] = route  # the template ObserveMiddleware labels and logs
                    state: State = scope["app"].state.skeldir
                    token = segments[1] if len(segments) == 2 else None
                    response = await ingest(state, scope, receive, segments[0], route.path, token)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def webhook_alias(request: Request) -> Response:
    path = request.url.path
    return await ingest(request.app.state.skeldir, request.scope, request.receive, ALIASES[path], path, None)


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document(sorted(ALIASES)))


async def http_error(request: Request, exc: Exception) -> Response:
    """404 and 405 as JSON (Starlette's default is plain text), with Allow on a 405."""
    assert isinstance(exc, HTTPException)
    status = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return JSONResponse({"status": status}, status_code=exc.status_code, headers=exc.headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    """Never a 500 with a stack trace: log it, answer 503 so the sender retries; nothing was committed."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return unavailable("internal error")


async def health_live(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def health_ready(request: Request) -> Response:
    state: State = request.app.state.skeldir
    result = {"status": "ok", "database": "ok", "rls": "ok", "tenant_guc": "ok"}
    try:
        async with state.pool.connection(timeout=2.0) as conn:
            cur = await conn.execute("SELECT rls_forced, tenant_guc FROM api.health_ready()")
            row = await cur.fetchone()
        assert row is not None
        result["rls"] = "ok" if row[0] else "error"
        result["tenant_guc"] = "ok" if row[1] else "error"
    except (psycopg.Error, PoolTimeout, OSError):
        recheck_pool(state.pool)
        result.update(database="error", rls="unknown", tenant_guc="unknown")
    ok = all(result[k] == "ok" for k in ("database", "rls", "tenant_guc"))
    result["status"] = "ok" if ok else "error"
    return JSONResponse(result, status_code=200 if ok else 503)


async def health_worker(request: Request) -> Response:
    """A fresh heartbeat and a probe sent through pgmq that a worker answers within PROBE_WAIT."""
    state: State = request.app.state.skeldir
    result: dict[str, object] = {
        "status": "error",
        "database": "ok",
        "broker": "unknown",
        "worker": "unknown",
        "workers": None,
        "heartbeat_age_seconds": None,
        "probe_ms": None,
    }
    try:
        async with state.pool.connection(timeout=2.0) as conn:
            try:
                cur = await conn.execute("SELECT api.worker_probe_send()")
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                result["broker"] = "error"
                log.warning("worker probe send failed", extra={"sqlstate": exc.sqlstate})
                return JSONResponse(result, status_code=503)
            row = await cur.fetchone()
        assert row is not None
        probe_id = row[0]
        result["broker"] = "ok"
        started = time.monotonic()
        while True:
            async with state.pool.connection(timeout=2.0) as conn:
                cur = await conn.execute(
                    "SELECT workers, heartbeat_age_seconds, probe_answered FROM api.health_worker(%s)", [probe_id]
                )
                row = await cur.fetchone()
            assert row is not None
            workers, age, answered = row
            waited = time.monotonic() - started
            if answered or waited >= PROBE_WAIT:
                break
            await asyncio.sleep(PROBE_POLL)
    except (psycopg.Error, PoolTimeout, OSError):
        recheck_pool(state.pool)
        result.update(database="error")
        return JSONResponse(result, status_code=503)
    result["workers"] = workers
    result["heartbeat_age_seconds"] = None if age is None else round(age, 3)
    if answered:
        result["probe_ms"] = round(waited * 1000, 1)
    if workers and answered:
        result.update(status="ok", worker="ok")
        return JSONResponse(result)
    result["worker"] = "error"
    result["reason"] = "no fresh worker heartbeat" if not workers else f"probe not answered within {PROBE_WAIT:g} s"
    return JSONResponse(result, status_code=503)


async def metrics(request: Request) -> Response:
    state: State = request.app.state.skeldir
    await state.metrics.refresh_queues(state.pool)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def open_after_identity(dsn: str, pool: AsyncConnectionPool, refuse: Callable[[str], None]) -> None:
    """Started while the database was unreachable: the pool opens (and the shell becomes ready)
    only once the runtime identity is checked on the first connection that succeeds."""
    try:
        role = await await_least_privilege(dsn, lambda reason: None)  # serve() logged the outage once
    except IdentityError as exc:
        refuse(str(exc))
        return
    log.info("runtime identity checked on the first connection: %s; ready", role)
    await pool.open(wait=False)


def create_app(
    dsn: str,
    settings: Settings | None = None,
    identity_checked: bool = True,
    refuse: Callable[[str], None] | None = None,
) -> Starlette:
    """identity_checked False: the database was unreachable at start; the pool opens after
    ``open_after_identity`` checked the role, and ``refuse`` is called if it is privileged."""
    settings = settings or Settings.from_env()
    shell_metrics = ShellMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(
            dsn,
            min_size=2,
            max_size=settings.pool_size,
            open=False,
            timeout=settings.pool_timeout,
            # Behind PgBouncer < 1.21 in transaction mode, server-side prepared statements break.
            kwargs={
                "autocommit": True,
                "fallback_application_name": "skeldir-shell",  # pg_stat_activity tells its backends apart
                "prepare_threshold": None if env("SKELDIR_PREPARED_STATEMENTS") == "off" else 5,
            },
        )
        watchdog = Watchdog(settings.pool_timeout + WATCHDOG_MARGIN)
        app.state.skeldir = State(
            pool=pool,
            settings=settings,
            metrics=shell_metrics,
            group=GroupCommit.from_env(pool, settings.pool_size, shell_metrics.group_commit.observe, watchdog),
            watchdog=watchdog,
        )
        opener = None
        if identity_checked:
            await pool.open(wait=False)
        else:
            opener = asyncio.create_task(open_after_identity(dsn, pool, refuse or (lambda reason: None)))
        try:
            yield
        finally:
            if opener is not None:
                opener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await opener
            await pool.close(timeout=1.0)

    webhook_routes = {path: Route(path, webhook, methods=["POST"]) for path in (WEBHOOK, WEBHOOK_TOKEN)}
    routes = [
        Route("/health/live", health_live, methods=["GET"]),
        Route("/health/ready", health_ready, methods=["GET"]),
        Route("/health/worker", health_worker, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *webhook_routes.values(),
        *(Route(path, webhook_alias, methods=["POST"]) for path in ALIASES),
        *read_api.routes,
        *llm_routes,
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(ObserveMiddleware, metrics=shell_metrics),
            Middleware(WebhookRoutes, routes=webhook_routes),
        ],
        exception_handlers={404: http_error, 405: http_error, Exception: internal_error},
    )


class Server(uvicorn.Server):
    """uvicorn's server, plus: SIGTERM pulls in every request's deadline to the grace period
    (so in-flight batches still commit and answer, and stragglers get 503, not silence), and
    a privileged identity found after start stops it with exit code 2."""

    exit_code = 0

    async def shutdown(self, sockets: list | None = None) -> None:
        state: State | None = getattr(self.config.app.state, "skeldir", None)
        if state is not None:
            state.watchdog.close(SHUTDOWN_GRACE)
        await super().shutdown(sockets)

    def refuse(self, reason: str) -> None:
        print(f"skeldir serve: {reason}", file=sys.stderr, flush=True)
        self.exit_code = 2
        self.should_exit = True


def serve(dsn: str, host: str, port: int) -> int:
    try:
        role: str | None = assert_least_privilege(dsn)
        unreachable = None
    except DatabaseUnreachable as exc:
        role, unreachable = None, str(exc)
    except IdentityError as exc:
        print(f"skeldir serve: {exc}", file=sys.stderr)
        return 2
    logs.configure()
    if role is None:
        log.warning(
            "database unreachable (%s); listening on %s:%d, not ready until the identity is checked",
            unreachable,
            host,
            port,
        )
    else:
        log.info("shell connecting as %s, listening on %s:%d", role, host, port)
    refusals: list[Callable[[str], None]] = []
    app = create_app(dsn, identity_checked=role is not None, refuse=lambda reason: refusals[0](reason))
    # What exists now lives as long as the process: frozen, the cyclic collector never scans
    # it again. A request allocates many short-lived objects and few cycles, so collections
    # can be rarer (shell CPU per request 0.84-0.92 of the default flat out, BENCHMARKS.md).
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=ShellProtocol,  # httptools, one socket write per response, a deadline on request heads
        access_log=False,
        log_level="warning",
        log_config=None,
        lifespan="on",
        # The watchdog answers every request within SHUTDOWN_GRACE of SIGTERM; this only
        # bounds what it cannot reach (a response being written to a stalled client).
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE) + 2,
    )
    server = Server(config)
    refusals.append(server.refuse)
    server.run()
    return server.exit_code
