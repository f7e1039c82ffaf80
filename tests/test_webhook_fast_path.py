"""The webhook routes served in front of Starlette's router (app.WebhookRoutes) answer as the
router would, and the binary batch arrays (batching.BATCH) carry every kind of delivery."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from skeldir.web.batching import Delivery, GroupCommit
from support import Database, dumps, stripe_event, stripe_signature

TOKEN_ROUTE = "/webhooks/{vendor}/{endpoint_token}"
ANSWER_HEADERS = ["date", "server", "content-length", "content-type", "x-request-id"]


def test_a_webhook_answer_has_the_headers_of_a_router_answer(shell: str, new_tenant) -> None:
    """The token route (served in front of the router) and an alias (served by the router)."""
    tenant = new_tenant("fast path headers")
    body = dumps(stripe_event())
    fast = httpx.post(f"{shell}/webhooks/stripe/ep_unknown", content=body, headers={"X-Request-Id": "fast-1"})
    routed = httpx.post(
        f"{shell}/api/webhooks/stripe/payment_intent_succeeded",
        content=body,
        headers={"X-Skeldir-Tenant-Key": "sk_unknown", "X-Request-Id": "routed-1"},
    )
    for response, request_id in ((fast, "fast-1"), (routed, "routed-1")):
        assert response.status_code == 401, response.text
        assert response.json() == {"status": "unauthorized"}
        assert list(response.headers.keys()) == ANSWER_HEADERS
        assert response.headers["content-type"] == "application/json"
        assert response.headers["content-length"] == str(len(response.content))
        assert response.headers["x-request-id"] == request_id
    signature = stripe_signature(body, tenant["secrets"]["stripe"])
    accepted = httpx.post(tenant["endpoints"]["stripe"], content=body, headers={"Stripe-Signature": signature})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
    assert list(accepted.headers.keys()) == ANSWER_HEADERS
    assert len(accepted.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("path", "status", "answer"),
    [
        ("/webhooks/", 404, {"status": "not_found"}),
        ("/webhooks//ep_x", 404, {"status": "not_found"}),
        ("/webhooks/stripe/ep_x/more", 404, {"status": "not_found"}),
    ],
)
def test_a_path_that_is_not_exactly_a_webhook_route_gets_the_routers_answer(
    shell: str, path: str, status: int, answer: dict
) -> None:
    response = httpx.post(f"{shell}{path}", content=b"{}")
    assert response.status_code == status
    assert response.json() == answer
    assert response.headers["x-request-id"]


def test_a_trailing_slash_on_a_webhook_route_is_the_routers_redirect(shell: str) -> None:
    response = httpx.post(f"{shell}/webhooks/stripe/ep_x/", content=b"{}")
    assert response.status_code == 307
    assert response.headers["location"] == f"{shell}/webhooks/stripe/ep_x"


def test_a_batch_of_key_and_token_deliveries_stores_each_through_the_binary_arrays(clone: Database) -> None:
    """NULL tokens (the key-header route) next to tokens, and a batch of NULL tokens only."""
    with psycopg.connect(clone.migration, autocommit=True) as conn:
        tenant = conn.execute(
            "SELECT api_key, endpoint_tokens, secrets FROM api.tenant_create('Binary arrays')"
        ).fetchone()
    assert tenant is not None
    api_key, token, secret = tenant[0], tenant[1]["stripe"], tenant[2]["stripe"]

    def delivery(by_token: bool) -> Delivery:
        body = dumps(stripe_event())
        headers = {"stripe-signature": stripe_signature(body, secret), "content-type": "application/json; charset=é"}
        if by_token:
            return Delivery("stripe", TOKEN_ROUTE, orjson.dumps(headers).decode(), body, token)
        headers["x-skeldir-tenant-key"] = api_key
        return Delivery("stripe", "/webhooks/{vendor}", orjson.dumps(headers).decode(), body, None)

    async def run(batch: list[Delivery]) -> list[object]:
        async with AsyncConnectionPool(clone.app, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
            group = GroupCommit(pool, max_batch=32, flushers=1)  # one flusher: the batch forms behind the first
            return await asyncio.gather(*(group.receive(d) for d in batch), return_exceptions=True)

    mixed = asyncio.run(run([delivery(True), delivery(False), delivery(True), delivery(False), delivery(True)]))
    keys_only = asyncio.run(run([delivery(False) for _ in range(4)]))
    assert [a[1] if isinstance(a, tuple) else repr(a) for a in mixed + keys_only] == ["accepted"] * 9
    with psycopg.connect(clone.admin) as conn:
        assert conn.execute("SELECT count(*) FROM skeldir.attribution_events").fetchone() == (9,)
