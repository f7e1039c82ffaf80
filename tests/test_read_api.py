"""The tenant read API through the real shell: webhook -> worker -> matview -> JSON pages."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from support import Database, WorkerProcess, dumps, stripe_event, stripe_signature, wait_for

PATHS = (
    "/api/revenue/daily",
    "/api/revenue/realtime",
    "/api/channels",
    "/api/allocations/summary",
    "/api/reconciliation",
)


def get(shell: str, path: str, key: str | None, **params: str) -> httpx.Response:
    headers = {"X-Skeldir-Tenant-Key": key} if key is not None else {}
    return httpx.get(f"{shell}{path}", params=params, headers=headers, timeout=10)


def send_payment(tenant: dict, amount: int, currency: str = "usd") -> int:
    event = stripe_event(amount=amount, amount_received=amount, currency=currency)
    body = dumps(event)
    response = httpx.post(
        tenant["endpoints"]["stripe"],
        content=body,
        headers={"Stripe-Signature": stripe_signature(body, tenant["secrets"]["stripe"])},
    )
    assert response.json()["status"] == "accepted"
    return response.json()["event_id"]


def test_webhook_reaches_revenue_daily_through_worker_and_matview_refresh(
    new_tenant, shell: str, worker: WorkerProcess
) -> None:
    tenant = new_tenant("Read Daily")
    send_payment(tenant, 4200)
    send_payment(tenant, 58, "eur")

    def rows(path: str, *fields: str) -> list[tuple]:
        items = get(shell, path, tenant["api_key"]).json()["items"]
        return sorted(tuple(i[f] for f in fields) for i in items)

    # No manual refresh: the worker's maintenance task refreshes the dirty views (each view
    # converges on its own; a write landing mid-refresh leaves it dirty for the next task).
    daily = [("EUR", 1, 58), ("USD", 1, 4200)]
    wait_for(lambda: rows("/api/revenue/daily", "currency", "payment_count", "payment_minor") == daily, timeout=30)
    channels = [("paid", "EUR", 58), ("paid", "USD", 4200)]
    wait_for(lambda: rows("/api/channels", "channel", "currency", "payment_minor") == channels, timeout=30)
    summary = [("last_touch", "paid", "EUR", 58), ("last_touch", "paid", "USD", 4200)]
    wait_for(
        lambda: rows("/api/allocations/summary", "model", "channel", "currency", "allocated_minor") == summary,
        timeout=30,
    )
    wait_for(lambda: ("USD", 4200) in rows("/api/revenue/realtime", "currency", "payment_minor"), timeout=30)
    # Both payments carry metadata.order_id 1001 and no order arrived: pending in the grace period.
    wait_for(lambda: rows("/api/reconciliation", "status", "ref_count") == [("pending", 1)], timeout=30)

    page = get(shell, "/api/revenue/daily", tenant["api_key"], limit="1", offset="1").json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [i["currency"] for i in page["items"]] == ["USD"]


def test_other_tenant_sees_none_of_it(new_tenant, shell: str, worker: WorkerProcess) -> None:
    first, second = new_tenant("Read First"), new_tenant("Read Second")
    send_payment(first, 999)
    wait_for(lambda: get(shell, "/api/revenue/daily", first["api_key"]).json()["items"], timeout=30)
    for path in PATHS:
        answer = get(shell, path, second["api_key"])
        assert answer.status_code == 200
        assert answer.json()["items"] == [] and answer.json()["total"] == 0


@pytest.mark.parametrize("key", [None, "", "sk_not_a_key"])
def test_missing_or_unknown_key_is_401(shell: str, key: str | None) -> None:
    answer = get(shell, "/api/revenue/daily", key)
    assert answer.status_code == 401
    assert answer.json()["reason"] == "unknown tenant key"


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "2026-13-01"}, '"from" must be a calendar date YYYY-MM-DD'),
        ({"to": "2026-02-30"}, '"to" must be a calendar date YYYY-MM-DD'),
        ({"from": "yesterday"}, '"from" must be a calendar date YYYY-MM-DD'),
        ({"from": "2026-05-02", "to": "2026-05-01"}, '"from" (2026-05-02) is after "to" (2026-05-01)'),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "spans more than 366 days"),
        ({"limit": "0"}, '"limit" must be an integer from 1 to 1000'),
        ({"limit": "1001"}, '"limit" must be an integer from 1 to 1000'),
        ({"limit": "ten"}, '"limit" must be an integer from 1 to 1000'),
        ({"offset": "-1"}, '"offset" must be an integer from 0 to'),
        ({"page": "2"}, 'unknown parameter "page"'),
    ],
)
def test_bad_parameters_are_400_with_the_reason(new_tenant, shell: str, params: dict, detail: str) -> None:
    tenant = new_tenant("Read Bad")
    for path in PATHS:
        answer = get(shell, path, tenant["api_key"], **params)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["sqlstate"] == "22023"
        assert detail in answer.json()["detail"]


def test_repeated_parameter_is_400(new_tenant, shell: str) -> None:
    tenant = new_tenant("Read Repeat")
    answer = httpx.get(
        f"{shell}/api/channels?limit=1&limit=2", headers={"X-Skeldir-Tenant-Key": tenant["api_key"]}, timeout=10
    )
    assert answer.status_code == 400
    assert "repeated" in answer.json()["reason"]


def test_suspended_tenant_key_is_401(new_tenant, shell: str, main_db: Database) -> None:
    tenant = new_tenant("Read Suspended")
    with psycopg.connect(main_db.migration) as conn:
        conn.execute("UPDATE skeldir.tenants SET status = 'suspended' WHERE id = %s", [tenant["tenant_id"]])
    assert get(shell, "/api/channels", tenant["api_key"]).status_code == 401
