"""Gates e2e_<vendor>: signed webhook -> event -> allocation -> matview -> tenant view, per vendor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from skeldir.tools.prove.context import (
    Context,
    GateFailed,
    NotAvailable,
    as_tenant,
    httpx_module,
    plan_changes,
    query,
    wait_until,
    write_json,
)
from skeldir.tools.prove.deliveries import E2E_DELIVERIES


def e2e_chain(ctx: Context, vendor: str) -> dict[str, Any]:
    """Signed webhook -> event -> allocation -> matview -> tenant view, with negative controls:
    duplicate stored once, tampered body 401 storing nothing, another tenant sees zero."""
    builder = E2E_DELIVERIES.get(vendor)
    if builder is None:
        raise NotAvailable(
            f"no end-to-end delivery builder for {vendor} (skeldir.tools.prove.deliveries.E2E_DELIVERIES)"
        )
    change = f"function_webhook_map_{vendor}"
    if change not in plan_changes():
        raise NotAvailable(f"this build does not map {vendor} (no sqitch change {change})")
    httpx = httpx_module()
    gate = f"e2e_{vendor}"
    tenant, other = ctx.tenant(f"Prove {vendor}"), ctx.tenant(f"Prove {vendor} other")
    delivery = builder(ctx, tenant)
    ctx.sensitive.update(delivery.sensitive)
    steps: list[dict[str, Any]] = []

    def step(name: str, ok: bool, **detail: Any) -> None:
        steps.append({"step": name, "ok": ok, **detail})
        write_json(ctx.evidence(gate, "chain.json"), steps)
        if not ok:
            raise GateFailed(f"{vendor} chain broke at {name}: {detail}", {"steps": len(steps)})

    started = time.monotonic()
    first = httpx.post(delivery.url, content=delivery.body, headers=delivery.headers, timeout=10)
    answer = first.json() if first.headers.get("content-type", "").startswith("application/json") else {}
    if first.status_code == 404:
        raise NotAvailable(f"the shell does not know vendor {vendor}: {first.text[:200]}")
    step("webhook accepted", first.status_code == 200 and answer.get("status") == "accepted", response=answer)
    event_id = answer["event_id"]

    rows = as_tenant(ctx.app_dsn, tenant["tenant_id"], "tenant_event", {"event_id": event_id})
    expected = [
        {
            "vendor": vendor,
            "kind": delivery.kind,
            "vendor_event_id": delivery.vendor_event_id,
            "amount_minor": delivery.amount_minor,
            "currency": delivery.currency,
        }
    ]
    if delivery.vendor_event_id is None:
        for row in [*rows, *expected]:
            row.pop("vendor_event_id", None)
    step("event stored under the tenant", rows == expected, rows=rows, expected=expected)

    allocations = wait_until(
        lambda: as_tenant(ctx.app_dsn, tenant["tenant_id"], "tenant_allocations", {"event_id": event_id}),
        20,
        "the worker did not allocate the event",
    )
    assert isinstance(allocations, list)
    total = sum(int(a["amount_minor"]) for a in allocations)
    step("allocations sum to the amount", total == delivery.amount_minor, allocations=allocations)
    allocated_s = time.monotonic() - started

    column = f"{delivery.kind}_minor"

    def summarised() -> bool:
        rows = as_tenant(ctx.app_dsn, tenant["tenant_id"], "tenant_daily_revenue")
        return bool(rows) and int(rows[0][column]) == delivery.amount_minor

    trigger = "worker"
    try:
        wait_until(summarised, 3, "no refresh yet")
    except GateFailed:
        # Nothing refreshed it yet (pg_cron pulses each minute): refresh as the pulse would.
        trigger = "operator"
        with psycopg.connect(ctx.migration_dsn, autocommit=True) as conn:
            refreshed = conn.execute(query("matview_refresh_dirty")).fetchall()
        steps.append({"step": "matview refresh (operator, as the pg_cron pulse)", "ok": True, "refreshed": refreshed})
    step("daily revenue view shows the amount", summarised(), trigger=trigger)

    duplicate = httpx.post(delivery.url, content=delivery.body, headers=delivery.headers, timeout=10).json()
    step(
        "duplicate returns the original event",
        duplicate == {"status": "duplicate", "event_id": event_id},
        response=duplicate,
    )

    # One byte more (still valid JSON): the signature covers the raw bytes, so it must fail.
    tampered = httpx.post(delivery.url, content=delivery.body + b" ", headers=delivery.headers, timeout=10)
    step("body changed by one byte is 401", tampered.status_code == 401, status=tampered.status_code)

    counts = as_tenant(ctx.app_dsn, tenant["tenant_id"], "tenant_counts")
    step(
        "stored exactly once, nothing from the tampered one",
        counts == [{"events": 1, "dead_letters": 0}],
        counts=counts,
    )
    others = as_tenant(ctx.app_dsn, other["tenant_id"], "tenant_counts")
    step("another tenant sees zero rows", others == [{"events": 0, "dead_letters": 0}], counts=others)
    return {
        "event_id": event_id,
        "allocated_after_s": round(allocated_s, 3),
        "matview_trigger": trigger,
        "steps": len(steps),
    }


def e2e_gate(vendor: str) -> Callable[[Context], dict[str, Any]]:
    def run(ctx: Context) -> dict[str, Any]:
        return e2e_chain(ctx, vendor)

    run.__doc__ = f"{vendor}: signed webhook -> event -> allocation -> matview -> tenant view."
    return run
