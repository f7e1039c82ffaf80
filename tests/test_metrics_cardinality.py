"""Label hygiene (issue 6 §4): traffic from 50 tenants adds no series and leaks no tenant value."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support_health import Stack, scrape, series

from skeldir.ops import admin
from support import Database, dumps, stripe_event, stripe_signature


@pytest.fixture
def own_shell(clone: Database, tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(clone.app, tmp_path)
    stack.start_shell()
    yield stack
    stack.stop()


def traffic(shell_url: str, tenant: dict) -> set[str]:
    """One of each kind of delivery for a tenant; returns the values that must never be labels."""
    secret = tenant["secrets"]["stripe"]
    endpoint = tenant["endpoints"]["stripe"]
    request_id = f"req-{uuid.uuid4().hex}"
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    body = dumps(stripe_event(receipt_email=email))
    signed = {"Stripe-Signature": stripe_signature(body, secret), "X-Request-Id": request_id}
    with httpx.Client(timeout=20.0) as client:
        assert client.post(endpoint, content=body, headers=signed).json()["status"] == "accepted"
        assert client.post(endpoint, content=body, headers=signed).json()["status"] == "duplicate"
        bad = {"Stripe-Signature": stripe_signature(body, "whsec_wrong")}
        assert client.post(endpoint, content=body, headers=bad).status_code == 401
        keyed = {**signed, "X-Skeldir-Tenant-Key": tenant["api_key"]}
        other = dumps(stripe_event())
        keyed["Stripe-Signature"] = stripe_signature(other, secret)
        assert client.post(f"{shell_url}/webhooks/stripe", content=other, headers=keyed).status_code == 200
        key = {"X-Skeldir-Tenant-Key": tenant["api_key"]}
        assert client.post(f"{shell_url}/webhooks/nosuchvendor-{request_id}", content=b"{}", headers=key).status_code
        assert client.get(f"{shell_url}/no/such/{tenant['tenant_id']}").status_code == 404
    token = endpoint.rsplit("/", 1)[1]
    return {tenant["tenant_id"], tenant["api_key"], secret, token, request_id, email}


def test_series_do_not_grow_with_tenants_and_no_label_is_a_tenant_value(own_shell: Stack, clone: Database) -> None:
    url = own_shell.shell_url
    scrape(f"{url}/metrics")  # the scrape route's own series exist from here on
    forbidden: set[str] = set()
    tenants = [admin.tenant_create(clone.migration, f"Store {n}", url) for n in range(50)]
    for tenant in tenants[:5]:
        forbidden |= traffic(url, tenant)
    after_5 = scrape(f"{url}/metrics")
    for tenant in tenants[5:]:
        forbidden |= traffic(url, tenant)
    after_50 = scrape(f"{url}/metrics")

    assert series(after_5) == series(after_50), "series depend on the number of tenants"
    requests = sum(v for (name, _), v in after_50.items() if name == "skeldir_http_requests_total")
    assert requests >= 50 * 6, "the traffic was counted"
    label_values = {v for _, labels in series(after_50) for _, v in labels}
    leaked = {v for v in label_values for secret in forbidden if secret in v}
    assert not leaked, leaked
    routes = {v for _, labels in series(after_50) for k, v in labels if k == "route"}
    assert routes <= {
        "/health/live",
        "/metrics",
        "/webhooks/{vendor}",
        "/webhooks/{vendor}/{endpoint_token}",
        "unmatched",
    }, routes
    vendors = {v for _, labels in series(after_50) for k, v in labels if k == "vendor"}
    assert vendors == {"stripe", "unknown"}, vendors
