"""Database edges shared by shell and worker: identity assertion and SQLSTATE mapping."""

from __future__ import annotations

import psycopg


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


def assert_least_privilege(dsn: str) -> str:
    """Connect once and refuse a superuser, BYPASSRLS or object-owning role. Returns the role."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            row = conn.execute("SELECT * FROM api.session_identity()").fetchone()
    except psycopg.Error as exc:
        raise IdentityError(f"cannot check the runtime identity: {one_line(exc)}") from exc
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
