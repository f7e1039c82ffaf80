"""HTTP edges of the webhook routes: aliases, 404, 405, 413, JSON everywhere, never a 500."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest
from vendor_signers import Sender, sender

from support import Database

ALIASES = {
    "/api/webhooks/shopify/order_create": "shopify",
    "/api/webhooks/stripe/payment_intent/succeeded": "stripe",
    "/api/webhooks/stripe/payment_intent_succeeded": "stripe",
    "/api/webhooks/paypal/sale_completed": "paypal",
    "/api/webhooks/woocommerce/order_completed": "woocommerce",
}


@pytest.mark.parametrize("path", sorted(ALIASES))
def test_predecessor_alias_reaches_the_same_ingest_function(path, shell, new_tenant, main_db: Database) -> None:
    vendor = ALIASES[path]
    s: Sender = sender(vendor, new_tenant(f"alias {vendor}"), main_db.migration)
    delivery = s.deliver(s.sample())
    headers = {**delivery.headers, "X-Skeldir-Tenant-Key": s.tenant["api_key"]}
    first = httpx.post(f"{shell}{path}", content=delivery.body, headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "accepted", first.text
    # The same delivery on the canonical route is the same event.
    again = httpx.post(s.url, content=delivery.body, headers=delivery.headers)
    assert again.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}


def test_unknown_vendor_is_404_json(shell) -> None:
    response = httpx.post(f"{shell}/webhooks/acme", content=b"{}")
    assert response.status_code == 404
    assert response.json() == {"status": "unknown_vendor"}


def test_unknown_path_is_404_json(shell) -> None:
    response = httpx.get(f"{shell}/nowhere")
    assert response.status_code == 404
    assert response.json() == {"status": "not_found"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_on_a_webhook_route_is_405_with_allow(shell, method: str) -> None:
    response = httpx.request(method, f"{shell}/webhooks/stripe/ep_whatever")
    assert response.status_code == 405
    assert response.json() == {"status": "method_not_allowed"}
    assert response.headers["allow"] == "POST"


def test_declared_oversized_body_is_413_before_it_is_sent(shell) -> None:
    """Content-Length of 100 MiB, 16 bytes sent: the answer comes without the rest."""
    parts = urlsplit(shell)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 104857600\r\n\r\n{\"id\": \"evt_1\"}")  # fmt: skip
        answer = b""
        while b"payload_too_large" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert b'"payload_too_large"' in answer


def test_streamed_oversized_body_without_length_is_413(shell) -> None:
    def chunks():
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MiB in total, chunked: no Content-Length

    response = httpx.post(f"{shell}/webhooks/stripe", content=chunks())
    assert response.status_code == 413
    assert response.json() == {"status": "payload_too_large", "limit_bytes": 1048576}


def test_body_just_under_the_limit_is_read_and_answered(shell) -> None:
    response = httpx.post(f"{shell}/webhooks/stripe", content=b" " * (1048576 - 1),
                          headers={"X-Skeldir-Tenant-Key": "skd_unknown"})  # fmt: skip
    assert response.status_code == 401


def test_unsupported_topic_is_200_ignored(shell, new_tenant, main_db: Database) -> None:
    s = sender("stripe", new_tenant("ignored topic"), main_db.migration)
    response = httpx.post(s.url, content=(d := s.deliver(s.sample(type="customer.created"))).body, headers=d.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "topic": "customer.created"}


def test_nul_byte_in_the_endpoint_token_is_400_not_503(shell) -> None:
    response = httpx.post(f"{shell}/webhooks/stripe/ep%00x", content=b"{}")
    assert response.status_code == 400
    assert response.json() == {"status": "bad_request"}
