"""HTTP routes of the LLM boundary: each request is one call of an ``api.llm_*`` function.

``POST /api/llm/{task}`` passes the tenant key and user id headers, the task and the raw
body to ``api.llm_request_http``, which authenticates, validates, records and enqueues in
one transaction (202 + status URL; 200 for a repeated request_id).
``GET /api/llm/calls/{request_id}`` returns the call's outcome. Errors come back as
``{"status": ..., "error": ..., "detail": ..., "hint": ...}`` with the status db.py maps
from the SQLSTATE.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from skeldir.db import http_status_of

log = logging.getLogger("skeldir.llm")

RETRY_AFTER = "5"
STATUS_WORD = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict"}


def _unavailable() -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "reason": "database unavailable"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER},
    )


def _error(exc: psycopg.Error, route: str) -> JSONResponse:
    status = http_status_of(exc)
    log.warning("%s failed: sqlstate=%s", route, exc.sqlstate)
    if status == 503:
        return _unavailable()
    if status == 401:
        return JSONResponse({"status": "unauthorized"}, status_code=401)
    diag = exc.diag
    message = diag.message_primary or (str(exc).strip().splitlines() or ["invalid request"])[0]
    body: dict[str, Any] = {"status": STATUS_WORD.get(status, "error"), "error": message}
    if diag.message_detail:
        body["detail"] = diag.message_detail
    if diag.message_hint:
        body["hint"] = diag.message_hint
    return JSONResponse(body, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it exceeds the limit (not read past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _call(request: Request, route: str, query: str, params: list[Any]) -> Response:
    pool = request.app.state.skeldir.pool
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(query, params, prepare=True)
            row = await cur.fetchone()
    except PoolTimeout:
        return _unavailable()
    except psycopg.Error as exc:
        return _error(exc, route)
    assert row is not None
    http_status, response = row
    return Response(response, status_code=http_status, media_type="application/json")


async def llm_request(request: Request) -> Response:
    limit = request.app.state.skeldir.settings.max_body_bytes
    body = await _read_body(request, limit)
    if body is None:
        return JSONResponse({"status": "payload_too_large", "limit_bytes": limit}, status_code=413)
    return await _call(
        request,
        "/api/llm/{task}",
        "SELECT http_status, response FROM api.llm_request_http(%s, %s, %s, %s)",
        [
            request.headers.get("x-skeldir-tenant-key"),
            request.headers.get("x-skeldir-user-id"),
            request.path_params["task"],
            body,
        ],
    )


async def llm_call(request: Request) -> Response:
    return await _call(
        request,
        "/api/llm/calls/{request_id}",
        "SELECT http_status, response FROM api.llm_call_http(%s, %s)",
        [request.headers.get("x-skeldir-tenant-key"), request.path_params["request_id"]],
    )


routes: list[Route] = [
    Route("/api/llm/calls/{request_id}", llm_call, methods=["GET"]),
    Route("/api/llm/{task}", llm_request, methods=["POST"]),
]
