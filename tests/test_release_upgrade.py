"""The upgrade path from the released schema (issue 19 §3), with real sqitch and real data.

A database is deployed at the release tag, written to through the API (a tenant, a signed
webhook accepted, a task run), upgraded to HEAD, checked, reverted to the tag and upgraded
again, as a DBA would (docs/dba.md, "Upgrading").

Changes after v1.0.0 never edit a released change's deploy script in place: a new object is
a new change, and a changed function or view is reworked with `sqitch rework <change>`, which
keeps the released script as `deploy/<change>@v1.0.0.sql` (and its revert and verify) and
makes the plan deploy the new version on top of it. So on the day of the tag, HEAD is the tag
and the upgrade below deploys nothing; with every change after it, this test deploys the
released scripts, upgrades over real rows, and proves the new version's revert returns to
the released one with the data intact.
"""

from __future__ import annotations

import json
import uuid

import psycopg
from psycopg.rows import dict_row

from skeldir.ops.cluster import Cluster, last_line
from support import dumps, stripe_event, stripe_signature

RELEASE = "@v1.0.0"
DATABASE = "skeldir_upgrade"
RECEIVE = "SELECT http_status, outcome, response FROM api.webhook_receive(%s, %s, %s::jsonb, %s, %s)"
ROUTE = "/webhooks/{vendor}/{endpoint_token}"


def sqitch(cluster: Cluster, action: str, *args: str) -> str:
    result = cluster.sqitch(action, *args, database=DATABASE)
    assert result.returncode == 0, f"sqitch {action} {' '.join(args)}: {last_line(result)}"
    return result.stdout


def deployed_tags(cluster: Cluster) -> list[str]:
    with psycopg.connect(cluster.dsn("migration_owner", DATABASE)) as conn:
        return [r[0] for r in conn.execute("SELECT tag FROM sqitch.tags ORDER BY committed_at").fetchall()]


def receive(cluster: Cluster, tenant: dict, event: dict) -> dict:
    """One signed Stripe delivery through the endpoint-token route, as the shell calls it (app_user)."""
    body = dumps(event)
    signature = stripe_signature(body, tenant["secrets"]["stripe"])
    headers = {"stripe-signature": signature, "content-type": "application/json"}
    with psycopg.connect(cluster.dsn("app_user", DATABASE), row_factory=dict_row) as conn:
        row = conn.execute(
            RECEIVE, ["stripe", ROUTE, json.dumps(headers), body, tenant["endpoint_tokens"]["stripe"]]
        ).fetchone()
    assert row is not None
    return {"http_status": row["http_status"], "outcome": row["outcome"], **json.loads(row["response"] or "{}")}


def run_attribution(cluster: Cluster) -> list[str]:
    """The worker's call: one batch of the attribution queue, as app_user; the outcomes."""
    with psycopg.connect(cluster.dsn("app_user", DATABASE)) as conn:
        return [r[0] for r in conn.execute("SELECT outcome FROM api.task_run_batch('attribution', 100)").fetchall()]


def tenant_rows(cluster: Cluster, tenant: dict) -> tuple[int, int]:
    """(events, allocations) the tenant sees through the api views, as app_user under its GUC."""
    with psycopg.connect(cluster.dsn("app_user", DATABASE)) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        events = conn.execute("SELECT count(*) FROM api.events").fetchone()
        allocations = conn.execute("SELECT count(*) FROM api.allocations").fetchone()
    assert events is not None and allocations is not None
    return events[0], allocations[0]


def test_release_deploys_then_upgrades_to_head_reverts_to_the_release_and_upgrades_again(cluster: Cluster) -> None:
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    cluster.bootstrap(DATABASE, cron=False)

    # The release, and data written through the API.
    sqitch(cluster, "deploy", "--to", RELEASE)
    assert deployed_tags(cluster)[-1] == RELEASE
    with psycopg.connect(cluster.dsn("migration_owner", DATABASE), row_factory=dict_row) as conn:
        created = conn.execute("SELECT * FROM api.tenant_create('Upgrade Store')").fetchone()
    assert created is not None
    tenant = {
        "tenant_id": str(created["tenant_id"]),
        "secrets": created["secrets"],
        "endpoint_tokens": created["endpoint_tokens"],
    }
    first = stripe_event(id=f"pi_{uuid.uuid4().hex[:16]}")
    accepted = receive(cluster, tenant, first)
    assert (accepted["http_status"], accepted["outcome"]) == (200, "accepted"), accepted
    assert run_attribution(cluster) == ["succeeded"]
    assert tenant_rows(cluster, tenant) == (1, 1)

    # Upgrade to HEAD: the data is there and the API works on it.
    sqitch(cluster, "deploy")
    sqitch(cluster, "verify")
    assert tenant_rows(cluster, tenant) == (1, 1)
    again = receive(cluster, tenant, first)
    assert (again["outcome"], again["event_id"]) == ("duplicate", accepted["event_id"]), again
    second = receive(cluster, tenant, stripe_event(id=f"pi_{uuid.uuid4().hex[:16]}", amount=1200))
    assert second["outcome"] == "accepted", second
    assert run_attribution(cluster) == ["succeeded"]
    assert tenant_rows(cluster, tenant) == (2, 2)

    # Back to the release (a no-op while HEAD is the release), then HEAD again: rows survive both.
    result = cluster.sqitch("revert", "--to", RELEASE, database=DATABASE)
    assert result.returncode == 0 or "No changes" in result.stdout + result.stderr, last_line(result)
    assert deployed_tags(cluster)[-1] == RELEASE
    assert tenant_rows(cluster, tenant) == (2, 2)
    sqitch(cluster, "deploy")
    sqitch(cluster, "verify")
    assert tenant_rows(cluster, tenant) == (2, 2)
    third = receive(cluster, tenant, stripe_event(id=f"pi_{uuid.uuid4().hex[:16]}"))
    assert third["outcome"] == "accepted", third
    assert run_attribution(cluster) == ["succeeded"]
