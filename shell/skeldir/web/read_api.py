"""The tenant read API: each request is one call of ``api.tenant_read``.

The SQL function authenticates the tenant key, validates every query parameter and
returns the page as JSON; this module only forwards the key header, the resource name and
the query string, and sends the answer (or the mapped error) back.
"""

from __future__ import annotations

import logging

import orjson
import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from skeldir.db import http_status_of

log = logging.getLogger("skeldir.read_api")

KEY_HEADER = "x-skeldir-tenant-key"

# URL path -> resource name of api.tenant_read.
RESOURCES = {
    "/api/revenue/daily": "revenue_daily",
    "/api/revenue/realtime": "revenue_realtime",
    "/api/channels": "channels",
    "/api/allocations/summary": "allocations_summary",
    "/api/reconciliation": "reconciliation",
}


def query_json(request: Request) -> str | None:
    """The query string as a JSON object; None when a parameter repeats (SQL rejects it)."""
    items = request.query_params.multi_items()
    params = dict(items)
    if len(params) != len(items):
        return None
    return orjson.dumps(params).decode()


async def read(request: Request) -> Response:
    resource = RESOURCES[request.url.path]
    params = query_json(request)
    if params is None:
        return JSONResponse({"status": "error", "reason": "a query parameter is repeated"}, status_code=400)
    try:
        async with request.app.state.skeldir.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT api.tenant_read(%s, %s, %s::jsonb)::text",
                [request.headers.get(KEY_HEADER), resource, params],
                prepare=True,
            )
            row = await cur.fetchone()
    except PoolTimeout:
        return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Retry-After": "5"})
    except psycopg.Error as exc:
        status = http_status_of(exc)
        if status == 503:
            log.warning("read %s failed: sqlstate=%s", resource, exc.sqlstate)
            return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Retry-After": "5"})
        body: dict[str, str | None] = {"status": "error", "sqlstate": exc.sqlstate, "reason": exc.diag.message_primary}
        if exc.diag.message_detail:
            body["detail"] = exc.diag.message_detail
        if exc.diag.message_hint:
            body["hint"] = exc.diag.message_hint
        return JSONResponse(body, status_code=status)
    assert row is not None
    return Response(row[0], media_type="application/json")


routes: list[Route] = [Route(path, read, methods=["GET"]) for path in RESOURCES]
