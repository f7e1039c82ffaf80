"""Issue 2 end to end: real uvicorn shell, real worker, real cluster, all as app_user."""

from __future__ import annotations

import httpx
import psycopg

from support import Database, WorkerProcess, as_tenant, dumps, stripe_event, stripe_signature, wait_for


def post_stripe(url: str, body: bytes, signature: str) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Stripe-Signature": signature, "Content-Type": "application/json"})


def refresh_summary(main_db: Database) -> None:
    with psycopg.connect(main_db.migration, autocommit=True) as conn:
        conn.execute("SELECT skeldir.matview_refresh('mv_daily_revenue_summary', 'test')")


def test_signed_stripe_webhook_flows_to_allocation_and_daily_summary(
    new_tenant, main_db: Database, worker: WorkerProcess
) -> None:
    tenant = new_tenant()
    event = stripe_event(amount=4200, amount_received=4200)
    body = dumps(event)
    response = post_stripe(tenant["endpoints"]["stripe"], body, stripe_signature(body, tenant["secrets"]["stripe"]))
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "accepted"
    event_id = answer["event_id"]

    rows = as_tenant(main_db.app, tenant["tenant_id"],
                     "SELECT vendor_event_id, amount_minor, currency, kind FROM api.events WHERE event_id = %s",
                     [event_id])  # fmt: skip
    assert rows == [(event["id"], 4200, "USD", "payment")]

    allocations = wait_for(lambda: as_tenant(
        main_db.app, tenant["tenant_id"], "SELECT channel, amount_minor FROM api.allocations WHERE event_id = %s",
        [event_id]))  # fmt: skip
    assert allocations == [("paid", 4200)]

    refresh_summary(main_db)
    summary = as_tenant(main_db.app, tenant["tenant_id"], "SELECT payment_count, payment_minor FROM api.daily_revenue")
    assert summary == [(1, 4200)]


def test_same_delivery_twice_is_duplicate_with_the_same_event_id(new_tenant, main_db: Database) -> None:
    tenant = new_tenant()
    body = dumps(stripe_event())
    signature = stripe_signature(body, tenant["secrets"]["stripe"])
    first = post_stripe(tenant["endpoints"]["stripe"], body, signature).json()
    second = post_stripe(tenant["endpoints"]["stripe"], body, signature).json()
    assert first["status"] == "accepted"
    assert second == {"status": "duplicate", "event_id": first["event_id"]}
    assert as_tenant(main_db.app, tenant["tenant_id"], "SELECT count(*) FROM api.events") == [(1,)]


def test_tampered_signature_is_401_and_stores_nothing(new_tenant, main_db: Database) -> None:
    tenant = new_tenant()
    body = dumps(stripe_event())
    signature = stripe_signature(body, tenant["secrets"]["stripe"])
    tampered = body.replace(b"2500", b"9999")
    response = post_stripe(tenant["endpoints"]["stripe"], tampered, signature)
    assert response.status_code == 401
    assert response.json() == {"status": "unauthorized"}
    counts = as_tenant(
        main_db.app,
        tenant["tenant_id"],
        "SELECT (SELECT count(*) FROM api.events), (SELECT count(*) FROM api.dead_letters)",
    )
    assert counts == [(0, 0)]


def test_unknown_tenant_key_gets_the_same_401_as_a_bad_signature(shell: str) -> None:
    response = httpx.post(f"{shell}/webhooks/stripe", content=b"{}", headers={"X-Skeldir-Tenant-Key": "skd_nope"})
    assert response.status_code == 401
    assert response.json() == {"status": "unauthorized"}


def test_tenant_key_header_route_accepts_a_signed_delivery(new_tenant, shell: str) -> None:
    tenant = new_tenant()
    body = dumps(stripe_event())
    response = httpx.post(
        f"{shell}/webhooks/stripe",
        content=body,
        headers={
            "X-Skeldir-Tenant-Key": tenant["api_key"],
            "Stripe-Signature": stripe_signature(body, tenant["secrets"]["stripe"]),
        },
    )
    assert response.json()["status"] == "accepted"


def test_valid_signature_on_invalid_json_is_dead_lettered(new_tenant, main_db: Database) -> None:
    tenant = new_tenant()
    body = b'{"id": "evt_broken", "type": '
    response = post_stripe(tenant["endpoints"]["stripe"], body, stripe_signature(body, tenant["secrets"]["stripe"]))
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "dead_lettered"
    assert answer["reason"] == "invalid_json"
    rows = as_tenant(main_db.app, tenant["tenant_id"], "SELECT reason, payload FROM api.dead_letters")
    assert rows == [("invalid_json", None)]


def test_stale_signature_timestamp_is_rejected(new_tenant) -> None:
    import time

    tenant = new_tenant()
    body = dumps(stripe_event())
    stale = stripe_signature(body, tenant["secrets"]["stripe"], timestamp=int(time.time()) - 301)
    assert post_stripe(tenant["endpoints"]["stripe"], body, stale).status_code == 401


def test_second_tenant_guc_sees_none_of_the_first_tenants_rows(new_tenant, main_db: Database) -> None:
    first, second = new_tenant("First"), new_tenant("Second")
    body = dumps(stripe_event())
    post_stripe(first["endpoints"]["stripe"], body, stripe_signature(body, first["secrets"]["stripe"]))
    query = "SELECT (SELECT count(*) FROM api.events), (SELECT count(*) FROM skeldir.attribution_events)"
    with psycopg.connect(main_db.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [first["tenant_id"]])
        assert conn.execute("SELECT count(*) FROM api.events").fetchone() == (1,)
    with psycopg.connect(main_db.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [second["tenant_id"]])
        assert conn.execute("SELECT count(*) FROM api.events").fetchone() == (0,)
        # and the base table is not reachable by app_user at all
        try:
            conn.execute(query)
            raise AssertionError("app_user read skeldir.attribution_events")
        except psycopg.errors.InsufficientPrivilege:
            pass


def test_readiness_reports_database_rls_and_guc(shell: str) -> None:
    response = httpx.get(f"{shell}/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "rls": "ok", "tenant_guc": "ok"}
    assert httpx.get(f"{shell}/health/live").json() == {"status": "ok"}
