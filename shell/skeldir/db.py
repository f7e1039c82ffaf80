"""Database edges shared by shell and worker: identity assertion and SQLSTATE mapping; named queries."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import psycopg

QUERY_DIR = Path(__file__).parent / "queries"  # package data (pyproject: queries/*.sql)


@cache
def named_queries(file: str) -> dict[str, str]:
    """The queries of ``queries/<file>.sql`` by name: each starts with a ``-- name: NAME`` line."""
    text = (QUERY_DIR / f"{file}.sql").read_text()
    named: dict[str, str] = {}
    for chunk in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = chunk.partition("\n")
        named[name.strip()] = body.strip()
    return named


class IdentityError(Exception):
    """The runtime DSN is privileged; SPEC §3 says refuse to run."""


def one_line(exc: psycopg.Error) -> str:
    diag = exc.diag
    parts = [diag.message_primary or str(exc).strip().splitlines()[0]]
    if diag.message_detail:
        parts.append(diag.message_detail)
    if diag.message_hint:
        parts.append(f"hint: {diag.message_hint}")
    return " | ".join(parts)


class DatabaseUnreachable(Exception):
    """The server cannot be reached yet (refused, starting up, shutting down): retry later."""


IDENTITY_QUERY = "SELECT * FROM api.session_identity()"
CONNECT_TIMEOUT = 5  # seconds per connection attempt of the identity check
BACKOFF_FIRST = 0.5  # seconds between identity attempts while the database is down, doubling...
BACKOFF_CAP = 5.0  # ...up to this


def unreachable(exc: psycopg.OperationalError) -> bool:
    """A failure to connect, or a server starting, stopping or full: worth retrying. libpq
    reports every failed connection attempt without a SQLSTATE, so a refused password or a
    missing database is retried too (the caller logs its message); an error on an open
    connection with a SQLSTATE of another class is not."""
    return exc.sqlstate is None or exc.sqlstate[:2] in ("08", "57") or exc.sqlstate == "53300"


def judge_identity(row: tuple | None) -> str:
    """The role, or IdentityError for a superuser, BYPASSRLS or object-owning one (SPEC §3)."""
    assert row is not None
    role, superuser, bypass_rls, owned = row
    if superuser or bypass_rls or owned:
        why = ", ".join(
            reason
            for reason, bad in (
                ("superuser", superuser),
                ("BYPASSRLS", bypass_rls),
                (f"owns {owned} objects", owned),
            )
            if bad
        )
        raise IdentityError(f"refusing to run as {role!r} ({why}); point SKELDIR_DATABASE_URL at app_user")
    return str(role)


def assert_least_privilege(dsn: str) -> str:
    """Connect once and refuse a superuser, BYPASSRLS or object-owning role. Returns the role.

    Raises DatabaseUnreachable when the server cannot be reached (the caller may start
    anyway and check on its first connection: ``await_least_privilege``), IdentityError
    for a privileged role or any other failure.
    """
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
            row = conn.execute(IDENTITY_QUERY).fetchone()
    except psycopg.OperationalError as exc:
        if unreachable(exc):
            raise DatabaseUnreachable(one_line(exc)) from exc
        raise IdentityError(f"cannot check the runtime identity: {one_line(exc)}") from exc
    except psycopg.Error as exc:
        raise IdentityError(f"cannot check the runtime identity: {one_line(exc)}") from exc
    return judge_identity(row)


async def await_least_privilege(
    dsn: str, on_unreachable: Callable[[str], None], stopping: asyncio.Event | None = None
) -> str | None:
    """``assert_least_privilege`` on the first connection that succeeds: while the database is
    unreachable it retries with capped backoff (``on_unreachable`` hears each failure).
    None if ``stopping`` is set first."""
    backoff = BACKOFF_FIRST
    stop = stopping or asyncio.Event()
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
                cur = await conn.execute(IDENTITY_QUERY)
                return judge_identity(await cur.fetchone())
        except psycopg.OperationalError as exc:
            if not unreachable(exc):
                raise IdentityError(f"cannot check the runtime identity: {one_line(exc)}") from exc
            on_unreachable(one_line(exc))
        except psycopg.Error as exc:
            raise IdentityError(f"cannot check the runtime identity: {one_line(exc)}") from exc
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, BACKOFF_CAP)
    return None


# SQLSTATE (exact, or class of two characters) -> HTTP status. The one place that maps.
SQLSTATE_HTTP: dict[str, int] = {
    "22023": 400,  # invalid_parameter_value: a bad request parameter
    "22P02": 400,  # invalid_text_representation
    "22": 400,  # any other data exception: a value of the request cannot be represented
    "28000": 401,  # invalid_authorization_specification: unknown tenant key
    "SK404": 404,
    "SK409": 409,  # a request_id reused for a different request
    "42501": 403,  # insufficient_privilege
    "08": 503,  # connection exceptions
    "53": 503,  # insufficient resources
    "57": 503,  # operator intervention (shutdown, cancel)
    "40": 503,  # transaction rollback (serialization, deadlock): retry
}


def http_status_of(exc: psycopg.Error) -> int:
    """Like http_status_for; a value psycopg refuses to send (a NUL in text: no SQLSTATE) is a 400."""
    if exc.sqlstate is None and isinstance(exc, psycopg.DataError):
        return 400
    return http_status_for(exc.sqlstate)


def http_status_for(sqlstate: str | None) -> int:
    if not sqlstate:
        return 503
    return SQLSTATE_HTTP.get(sqlstate, SQLSTATE_HTTP.get(sqlstate[:2], 503))
