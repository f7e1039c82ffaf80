"""Structured logs: one JSON line per request with the fields operators need, and a scan
proving that secrets, keys, signatures, endpoint tokens and PII sent in traffic never reach
any log line of the shell or the worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support_health import Stack

from skeldir.ops import admin
from support import Database, as_tenant, dumps, stripe_event, stripe_signature, wait_for

EMAIL = "jane.logscan@example.com"
NAME = "Jane Logscan"
PHONE = "+1-555-0199"
STREET = "742 Evergreen Terrace"
BEARER = "bearer-token-3f9a7c1e5d"
COOKIE = "session=cookie-secret-8b2d4f"


@pytest.fixture
def stack(clone: Database, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(clone.app, tmp_path)
    s.start_shell()
    s.start_worker()
    yield s
    s.stop()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_no_secret_key_signature_token_or_pii_reaches_the_logs(stack: Stack, clone: Database) -> None:
    tenant = admin.tenant_create(clone.migration, "Log Scan Store", stack.shell_url)
    secret, api_key = tenant["secrets"]["stripe"], tenant["api_key"]
    endpoint = tenant["endpoints"]["stripe"]
    token = endpoint.rsplit("/", 1)[1]
    customer = {
        "receipt_email": EMAIL,
        "shipping": {"name": NAME, "phone": PHONE, "address": {"line1": STREET}},
    }
    accepted = dumps(stripe_event(**customer))
    signature = stripe_signature(accepted, secret)
    noisy = {"Authorization": f"Bearer {BEARER}", "Cookie": COOKIE}
    sent: list[tuple[str, str, int]] = []  # (method, request id, status)

    def signed(body: bytes, key: str = secret) -> dict[str, str]:
        return {"Stripe-Signature": stripe_signature(body, key)}

    with httpx.Client(timeout=20.0) as client:

        def send(method: str, url: str, request_id: str, **kw) -> httpx.Response:
            response = client.request(method, url, headers={**kw.pop("headers", {}), "X-Request-Id": request_id}, **kw)
            sent.append((method, request_id, response.status_code))
            return response

        r = send("POST", f"{endpoint}?api_key={api_key}&email={EMAIL}", "r1",
                 content=accepted, headers={"Stripe-Signature": signature, **noisy})  # fmt: skip
        assert r.json()["status"] == "accepted"
        event_id = r.json()["event_id"]
        keyed = dumps(stripe_event(**customer))
        r = send("POST", f"{stack.shell_url}/webhooks/stripe", "r2", content=keyed,
                 headers={"X-Skeldir-Tenant-Key": api_key, **signed(keyed)})  # fmt: skip
        assert r.json()["status"] == "accepted"
        r = send("POST", endpoint, "r3", content=accepted, headers=signed(accepted, "whsec_wrong"))
        assert r.status_code == 401
        r = send("POST", f"{stack.shell_url}/webhooks/stripe", "r4", content=accepted,
                 headers={"X-Skeldir-Tenant-Key": f"{api_key}-guess", "Stripe-Signature": signature})  # fmt: skip
        assert r.status_code == 401
        malformed = f'{{"id": "evt_x", "email": "{EMAIL}", "secret": "{secret}"'.encode()
        r = send("POST", endpoint, "r5", content=malformed, headers=signed(malformed))
        assert r.status_code == 200
        big = (EMAIL + secret).encode() * 40_000
        r = send("POST", endpoint, "r6", content=big, headers=signed(big))
        assert r.status_code == 413
        r = send("GET", f"{stack.shell_url}/health/ready?token={token}", "r7")
        assert r.status_code == 200
        r = send("GET", f"{stack.shell_url}/health/worker", "r8")
        assert r.status_code == 200
        r = send("GET", f"{stack.shell_url}/metrics", "r9")
        assert r.status_code == 200

    # The worker handled the PII-carrying events too before we read its log.
    wait_for(
        lambda: as_tenant(clone.app, tenant["tenant_id"], "SELECT count(*) FROM api.allocations WHERE event_id = %s",
                          [event_id]) != [(0,)],
        timeout=30,
    )  # fmt: skip
    stack.stop()

    forbidden = [secret, api_key, token, signature, signature.split("v1=")[1], BEARER, COOKIE, EMAIL, NAME, PHONE,
                 STREET, "jane.logscan"]  # fmt: skip
    logs = {path.name: path.read_text() for path in (stack.shell_log, stack.worker_log())}
    for name, text in logs.items():
        assert text.strip(), f"{name} is empty"
        for value in forbidden:
            assert value.lower() not in text.lower(), f"{value!r} appears in {name}"

    shell_lines = lines(stack.shell_log)  # every line is a JSON object
    lines(stack.worker_log())
    ours = {request_id for _, request_id, _ in sent}
    requests = [line for line in shell_lines if line["msg"] == "request" and line["request_id"] in ours]
    assert [(r["method"], r["request_id"], r["status"]) for r in requests] == sent, "one line per request"
    for line in requests:
        assert {"ts", "level", "route", "status", "latency_ms", "request_id"} <= line.keys()
        assert line["latency_ms"] >= 0
    by_id = {line["request_id"]: line for line in requests}
    assert by_id["r1"]["route"] == "/webhooks/{vendor}/{endpoint_token}"
    assert (by_id["r1"]["vendor"], by_id["r1"]["outcome"]) == ("stripe", "accepted")
    assert (by_id["r3"]["outcome"], by_id["r5"]["outcome"]) == ("unauthorized", "dead_lettered")
    assert by_id["r6"]["outcome"] == "payload_too_large"


def test_a_request_without_a_usable_request_id_gets_one_and_it_is_echoed(stack: Stack) -> None:
    response = httpx.get(f"{stack.shell_url}/health/live", headers={"X-Request-Id": "not ok; has spaces"})
    generated = response.headers["X-Request-Id"]
    assert generated != "not ok; has spaces" and len(generated) == 32
    stack.stop()
    assert generated in {line.get("request_id") for line in lines(stack.shell_log)}
