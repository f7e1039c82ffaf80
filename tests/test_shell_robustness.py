"""Issue 18: one delivery's failure, a client's disconnect or a held lock hurts nobody else.

A shell of this module's own runs on a private clone of the template. Faults are injected by
the database itself, not by mocks: a trigger on skeldir.attribution_events raises 53100
(disk full, a failure no document can cause) for events whose attribution carries the
campaign ``fault-fail``, and a second session holding a SHARE lock on the table stands for
a long transaction that blocks every insert.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from support_health import scrape, value
from vendor_signers import sender

from skeldir.ops import admin
from skeldir.ops.cluster import TEMPLATE_DATABASE, Cluster
from skeldir.web.protocol import HEAD_TIMEOUT
from support import Database, dumps, free_port, skeldir_process, stop_process, stripe_event, stripe_signature, wait_http

POOL_TIMEOUT = 1.0  # the shell's SKELDIR_POOL_TIMEOUT here: its watchdog answers after 1 s + margin
DEADLINE = POOL_TIMEOUT + 3.0  # skeldir.web.watchdog.WATCHDOG_MARGIN
BODY_TIMEOUT = 2.0
CLEAN_EXIT = (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled once it has shut down

FAULT_TRIGGER = """
CREATE FUNCTION public.fault_injection() RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    IF NEW.utm_campaign = 'fault-fail' THEN
        RAISE EXCEPTION 'injected fault' USING ERRCODE = 'disk_full', HINT = 'test_shell_robustness';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER fault_injection BEFORE INSERT ON skeldir.attribution_events
    FOR EACH ROW EXECUTE FUNCTION public.fault_injection();
"""


@dataclass
class Shell:
    proc: subprocess.Popen
    url: str
    log: Path


@pytest.fixture(scope="module")
def faulty_db(cluster: Cluster) -> Iterator[Database]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DATABASE}')
    db = Database(name, cluster.admin_dsn(name), cluster.dsn("migration_owner", name), cluster.dsn("app_user", name))
    with psycopg.connect(db.admin, autocommit=True) as conn:
        conn.execute(FAULT_TRIGGER)
    yield db
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def start_shell(db: Database, log: Path) -> Shell:
    port = free_port()
    env = {
        "SKELDIR_GROUP_COMMIT_FLUSHERS": "1",
        "SKELDIR_POOL_TIMEOUT": str(POOL_TIMEOUT),
        "SKELDIR_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    proc = skeldir_process(["serve", "--port", str(port)], db.app, log, env)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health/live")
    return Shell(proc, url, log)


@pytest.fixture
def shell(faulty_db: Database, tmp_path: Path) -> Iterator[Shell]:
    s = start_shell(faulty_db, tmp_path / "shell.log")
    yield s
    stop_process(s.proc)


def new_tenant(db: Database, shell: Shell) -> dict:
    return admin.tenant_create(db.migration, f"Robust {uuid.uuid4().hex[:6]}", shell.url)


@pytest.fixture
def tenant(faulty_db: Database, shell: Shell) -> dict:
    return new_tenant(faulty_db, shell)


def signed(tenant: dict, campaign: str = "spring") -> tuple[str, bytes, dict[str, str]]:
    body = dumps(stripe_event(metadata={"order_id": "1", "utm_source": "google", "utm_campaign": campaign}))
    return (
        tenant["endpoints"]["stripe"],
        body,
        {"Stripe-Signature": stripe_signature(body, tenant["secrets"]["stripe"])},
    )


def junk(shell: Shell) -> tuple[str, bytes, dict[str, str]]:
    """The issue's junk: POST /webhooks/stripe -H 'Stripe-Signature: t=1,v1=0' -d x"""
    return f"{shell.url}/webhooks/stripe", b"x", {"Stripe-Signature": "t=1,v1=0"}


async def send_all(requests: list[tuple[str, bytes, dict[str, str]]], timeout: float) -> list[httpx.Response | str]:
    """All at once, one connection each; an unanswered request comes back as the exception's name."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def one(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response | str:
            try:
                return await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return type(exc).__name__

        return await asyncio.gather(*(one(*r) for r in requests))


def stored_events(db: Database, tenant: dict) -> set[int]:
    with psycopg.connect(db.admin) as conn:
        rows = conn.execute("SELECT id FROM skeldir.attribution_events WHERE tenant_id = %s", [tenant["tenant_id"]])
        return {r[0] for r in rows}


def log_records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def test_failing_deliveries_among_64_concurrent_junk_requests_leave_no_request_unanswered(
    shell: Shell, tenant: dict, faulty_db: Database
) -> None:
    """Issue 18 §1, as reported: 8 signed deliveries that raise inside the shared batch and 56
    unauthenticated junk requests at once. Before the fix the batch code crashed on the first
    failure and 13 junk requests never got an answer."""
    failing = [signed(tenant, "fault-fail") for _ in range(8)]
    requests = failing + [junk(shell) for _ in range(56)]
    answers = asyncio.run(send_all(requests, timeout=DEADLINE + 10))

    unanswered = [a for a in answers if isinstance(a, str)]
    assert not unanswered, f"{len(unanswered)} requests got no answer: {unanswered[:3]}"
    statuses = [a.status_code for a in answers if isinstance(a, httpx.Response)]
    assert statuses[:8] == [503] * 8, "a delivery that the database failed is told to retry"
    assert all(a.headers["Retry-After"].isdigit() for a in answers[:8] if isinstance(a, httpx.Response))
    assert statuses[8:] == [401] * 56
    assert stored_events(faulty_db, tenant) == set()
    records = log_records(shell.log)
    assert not [r for r in records if r["level"] in ("error", "critical")], "no batch task crashed"


def test_a_failing_delivery_fails_alone_and_its_batch_neighbours_are_stored_and_answered(
    shell: Shell, tenant: dict, faulty_db: Database
) -> None:
    requests = [signed(tenant, "fault-fail" if n % 4 == 0 else "spring") for n in range(32)]
    answers = asyncio.run(send_all(requests, timeout=DEADLINE + 10))
    assert all(isinstance(a, httpx.Response) for a in answers), answers
    responses = [a for a in answers if isinstance(a, httpx.Response)]
    assert [r.status_code for r in responses] == [503 if n % 4 == 0 else 200 for n in range(32)]
    accepted = {r.json()["event_id"] for r in responses if r.status_code == 200}
    assert len(accepted) == 24
    assert stored_events(faulty_db, tenant) == accepted, "events stored = accepted answers"


def test_a_delivery_held_by_a_long_transaction_gets_503_by_the_watchdog_and_nothing_stays_committed(
    shell: Shell, tenant: dict, faulty_db: Database
) -> None:
    blocked = signed(tenant)
    with psycopg.connect(faulty_db.admin) as holder:
        holder.execute("LOCK TABLE skeldir.attribution_events IN SHARE MODE")  # every insert waits
        started = time.monotonic()
        answers = asyncio.run(send_all([blocked], timeout=DEADLINE + 10))
        waited = time.monotonic() - started
    first = answers[0]
    assert isinstance(first, httpx.Response), answers
    assert first.status_code == 503
    assert first.json() == {"status": "unavailable", "reason": "timeout"}
    assert first.headers["Retry-After"].isdigit()
    assert waited < DEADLINE + 2.0, waited
    # The watchdog cancelled the statement: the vendor's retry is new, not a duplicate.
    url, body, headers = blocked
    retry = httpx.post(url, content=body, headers=headers, timeout=10)
    assert retry.status_code == 200 and retry.json()["status"] == "accepted"
    assert stored_events(faulty_db, tenant) == {retry.json()["event_id"]}


def test_sigterm_answers_every_in_flight_request_and_exits_within_10_seconds(
    faulty_db: Database, tmp_path: Path
) -> None:
    own = start_shell(faulty_db, tmp_path / "sigterm.log")
    tenant = new_tenant(faulty_db, own)

    async def scenario() -> tuple[list[httpx.Response | str], float]:
        sends = asyncio.ensure_future(send_all([signed(tenant) for _ in range(8)], timeout=30))
        await asyncio.sleep(1.0)  # all eight are waiting on the lock now
        own.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        answers = await sends
        await asyncio.to_thread(own.proc.wait, 30)
        return answers, time.monotonic() - started

    with psycopg.connect(faulty_db.admin) as holder:
        holder.execute("LOCK TABLE skeldir.attribution_events IN SHARE MODE")
        answers, exit_after = asyncio.run(scenario())
    assert exit_after < 10.0, f"the shell took {exit_after:.1f} s to exit after SIGTERM"
    assert own.proc.returncode in CLEAN_EXIT
    assert [a.status_code if isinstance(a, httpx.Response) else a for a in answers] == [503] * 8
    assert stored_events(faulty_db, tenant) == set()


def test_sigterm_lets_an_in_flight_batch_commit_and_answers_it(faulty_db: Database, tmp_path: Path) -> None:
    own = start_shell(faulty_db, tmp_path / "drain.log")
    tenant = new_tenant(faulty_db, own)

    async def scenario(holder: psycopg.Connection) -> list[httpx.Response | str]:
        sends = asyncio.ensure_future(send_all([signed(tenant) for _ in range(8)], timeout=30))
        await asyncio.sleep(0.5)
        own.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(holder.rollback)  # the long transaction ends within the grace period
        return await sends

    with psycopg.connect(faulty_db.admin) as holder:
        holder.execute("LOCK TABLE skeldir.attribution_events IN SHARE MODE")
        answers = asyncio.run(scenario(holder))
    assert own.proc.wait(10) in CLEAN_EXIT
    assert [a.status_code if isinstance(a, httpx.Response) else a for a in answers] == [200] * 8
    accepted = {a.json()["event_id"] for a in answers if isinstance(a, httpx.Response)}
    assert stored_events(faulty_db, tenant) == accepted


def test_client_disconnecting_mid_body_is_counted_as_a_disconnect_not_a_server_error(shell: Shell) -> None:
    port = int(shell.url.rsplit(":", 1)[1])
    for path in ("/webhooks/stripe", "/api/webhooks/stripe/payment_intent_succeeded"):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode() + b"{" * 10)
            time.sleep(0.2)
    time.sleep(0.5)
    samples = scrape(f"{shell.url}/metrics")
    server_errors = {
        k: v for k, v in samples.items() if k[0] == "skeldir_http_requests_total" and ("status", "500") in k[1]
    }
    assert not server_errors, server_errors
    assert value(samples, "skeldir_http_client_disconnects_total", route="/webhooks/{vendor}") == 1
    assert (
        value(samples, "skeldir_http_client_disconnects_total", route="/api/webhooks/stripe/payment_intent_succeeded")
        == 1
    )
    assert value(samples, "skeldir_webhook_outcomes_total", vendor="stripe", outcome="client_disconnect") == 2
    records = log_records(shell.log)
    assert not [r for r in records if r["level"] in ("error", "critical")], records
    assert not [r for r in records if "exc_type" in r], records
    disconnects = [r for r in records if r.get("outcome") == "client_disconnect"]
    assert len(disconnects) == 2 and all(r["level"] == "info" for r in disconnects)


def test_paypal_delivery_with_an_infinite_or_unparseable_transmission_time_is_401(
    shell: Shell, tenant: dict, faulty_db: Database
) -> None:
    """Issue 18 §3: correctly RSA-signed over the hostile time, it is still a stale signature."""
    paypal = sender("paypal", tenant, faulty_db.migration)
    fresh = paypal.deliver(paypal.sample())
    assert httpx.post(fresh.url, content=fresh.body, headers=fresh.headers, timeout=10).status_code == 200
    for when in ("infinity", "-infinity", "now", "yesterday", "2026-02-30T10:00:00Z", "garbage"):
        d = paypal.deliver(paypal.sample(), transmission_time=when)
        response = httpx.post(d.url, content=d.body, headers=d.headers, timeout=10)
        assert (when, response.status_code, response.json()) == (when, 401, {"status": "unauthorized"})


def test_slowloris_gets_408_for_a_body_and_a_closed_connection_for_a_head_that_never_completes(shell: Shell) -> None:
    port = int(shell.url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port)) as slow_body,
        socket.create_connection(("127.0.0.1", port)) as slow_head,
    ):
        slow_body.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"{" * 10)
        slow_head.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        slow_body.settimeout(BODY_TIMEOUT + 10)
        answer = slow_body.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b'"status":"request_timeout"' in answer
        assert BODY_TIMEOUT - 0.5 < time.monotonic() - started < BODY_TIMEOUT + 3

        slow_head.settimeout(0.5)
        closed_after = None
        while time.monotonic() - started < HEAD_TIMEOUT + 10:
            try:
                slow_head.sendall(b"X")  # one header byte now and then keeps it from ever completing
                if slow_head.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None and HEAD_TIMEOUT - 0.5 < closed_after < HEAD_TIMEOUT + 3, closed_after
    samples = scrape(f"{shell.url}/metrics")
    assert value(samples, "skeldir_webhook_outcomes_total", vendor="stripe", outcome="request_timeout") == 1
