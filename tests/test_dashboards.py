"""Every operator dashboard after a scripted scenario: expected rows under the right tenant,
no tenant rows under another, the same as app_ro, by CLI (table and CSV) and by psql."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from skeldir.ops import admin
from support import Database, WorkerProcess, as_tenant, dumps, stripe_event, stripe_signature, wait_for

DASHBOARDS = Path(__file__).resolve().parents[1] / "sql" / "dashboards"
TENANT_DASHBOARDS = [
    "llm_monthly_spend",
    "llm_cache_hit_rate",
    "llm_provider_cost_latency",
    "ingestion_outcomes",
    "dead_letters_by_reason",
    "failed_jobs",
]
GLOBAL_DASHBOARDS = ["queue_health", "matview_freshness"]


def cli(args: list[str], dsn: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SKELDIR_DATABASE_URL": dsn}
    return subprocess.run([sys.executable, "-m", "skeldir.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def dashboard(name: str, tenant: str, dsn: str) -> list[dict[str, str]]:
    result = cli(["dashboard", name, "--tenant", tenant, "--csv"], dsn)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.fixture(scope="module")
def scenario(main_db: Database, shell: str, worker: WorkerProcess) -> dict[str, str]:
    """Tenant A gets one of everything the dashboards show; tenant B gets nothing."""
    a = admin.tenant_create(main_db.migration, "Dash A", shell)
    b = admin.tenant_create(main_db.migration, "Dash B", shell)
    url, secret = a["endpoints"]["stripe"], a["secrets"]["stripe"]

    def post(body: bytes, signature: str) -> str:
        return httpx.post(url, content=body, headers={"Stripe-Signature": signature}).json()["status"]

    body = dumps(stripe_event())
    assert post(body, stripe_signature(body, secret)) == "accepted"
    assert post(body.replace(b"2500", b"9999"), stripe_signature(body, secret)) == "unauthorized"
    bad = b'{"id": "evt_half", "type": '
    assert post(bad, stripe_signature(bad, secret)) == "dead_lettered"
    ignored = dumps(stripe_event("customer.created"))
    assert post(ignored, stripe_signature(ignored, secret)) == "ignored"

    prompt = f"dashboard question {uuid.uuid4().hex}"
    headers = {"X-Skeldir-Tenant-Key": a["api_key"], "X-Skeldir-User-Id": "ops"}
    for rid in ("dash-1", "dash-2"):
        r = httpx.post(
            f"{shell}/api/llm/explanation", json={"request_id": rid, "inputs": {"prompt": prompt}}, headers=headers
        )
        assert r.status_code == 202
        wait_for(
            lambda rid=rid: httpx.get(f"{shell}/api/llm/calls/{rid}", headers=headers).json()["status"] != "pending"
        )

    with psycopg.connect(main_db.migration, autocommit=True) as conn:
        conn.execute(
            "SELECT pgmq.send('attribution', jsonb_build_object('task', 'poison_pill', 'tenant_id', %s::uuid))",
            [a["tenant_id"]],
        )
        conn.execute("SELECT skeldir.matview_refresh('mv_daily_revenue_summary', 'dashboard-test')")
    failed = "SELECT count(*) FROM api.dashboard_failed_jobs"
    wait_for(lambda: as_tenant(main_db.app, a["tenant_id"], failed)[0][0] == 1, timeout=30)
    return {"a": a["tenant_id"], "b": b["tenant_id"], "a_slug": a["slug"]}


def test_every_dashboard_file_is_covered_by_these_tests() -> None:
    names = sorted(p.stem for p in DASHBOARDS.glob("*.sql"))
    assert names == sorted([*TENANT_DASHBOARDS, *GLOBAL_DASHBOARDS, "llm_breaker_shutoff"])
    assert len(names) == 9


def test_llm_monthly_spend_counts_the_tenants_calls(scenario: dict, main_db: Database) -> None:
    rows = dashboard("llm_monthly_spend", scenario["a"], main_db.app)
    assert [(r["calls"], r["provider_calls"], r["cached_calls"], r["blocked_calls"]) for r in rows] == [
        ("2", "1", "1", "0")
    ]
    assert float(rows[0]["cost_usd"]) > 0 and rows[0]["monthly_budget_usd"] == "100"


def test_llm_cache_hit_rate_is_one_cached_of_two(scenario: dict, main_db: Database) -> None:
    rows = dashboard("llm_cache_hit_rate", scenario["a"], main_db.app)
    assert [(r["task"], r["calls"], r["cached"], r["provider_successes"]) for r in rows] == [
        ("explanation", "2", "1", "1")
    ]
    assert float(rows[0]["cache_hit_rate"]) == 0.5


def test_llm_provider_cost_latency_has_the_stub_model(scenario: dict, main_db: Database) -> None:
    rows = dashboard("llm_provider_cost_latency", scenario["a"], main_db.app)
    assert [(r["provider"], r["model"], r["calls"], r["errors"], r["timeouts"]) for r in rows] == [
        ("stub", "stub-small", "1", "0", "0")
    ]
    assert float(rows[0]["latency_p95_ms"]) >= float(rows[0]["latency_p50_ms"]) > 0


def test_llm_breaker_shutoff_shows_global_controls_and_the_tenants_limits(scenario: dict, main_db: Database) -> None:
    rows = {(r["scope"], r["control"]): r for r in dashboard("llm_breaker_shutoff", scenario["a"], main_db.app)}
    assert rows[("global", "kill_switch")]["state"] == "off"
    assert rows[("global", "breaker:stub")]["state"] == "closed"
    assert rows[("tenant", "hourly_shutoff")]["state"] == "ok"
    assert float(rows[("tenant", "hourly_shutoff")]["current_value"]) > 0
    assert rows[("tenant", "monthly_budget")]["threshold"] == "100"
    other = dashboard("llm_breaker_shutoff", scenario["b"], main_db.app)
    assert [r["scope"] for r in other if r["scope"] == "tenant"] == []
    assert {r["control"] for r in other} == {"kill_switch", "breaker:stub"}


def test_ingestion_outcomes_by_vendor(scenario: dict, main_db: Database) -> None:
    rows = dashboard("ingestion_outcomes", scenario["a"], main_db.app)
    assert [(r["vendor"], r["accepted"], r["dead_lettered"], r["unauthorized"], r["ignored"]) for r in rows] == [
        ("stripe", "1", "1", "1", "1")
    ]


def test_dead_letters_by_reason(scenario: dict, main_db: Database) -> None:
    rows = dashboard("dead_letters_by_reason", scenario["a"], main_db.app)
    assert [(r["vendor"], r["reason"], r["total"], r["pending"], r["replayed"]) for r in rows] == [
        ("stripe", "invalid_json", "1", "1", "0")
    ]


def test_failed_jobs_shows_the_poison_pill(scenario: dict, main_db: Database) -> None:
    rows = dashboard("failed_jobs", scenario["a"], main_db.app)
    assert [(r["queue"], r["task_name"], r["status"], r["jobs"], r["max_retry_count"]) for r in rows] == [
        ("attribution", "poison_pill", "failed", "1", "3")
    ]
    assert "poison pill" in rows[0]["last_error"]


@pytest.mark.parametrize("name", TENANT_DASHBOARDS)
def test_tenant_dashboard_shows_nothing_under_another_tenant(name: str, scenario: dict, main_db: Database) -> None:
    assert dashboard(name, scenario["a"], main_db.app) != []
    assert dashboard(name, scenario["b"], main_db.app) == []


def test_queue_health_is_broker_truth_for_all_queues(scenario: dict, main_db: Database) -> None:
    rows = {r["queue_name"]: r for r in dashboard("queue_health", scenario["b"], main_db.app)}
    assert {"attribution", "maintenance", "llm", "housekeeping"} <= set(rows)
    assert int(rows["llm"]["total_sent"]) >= 2
    assert all(int(r["depth"]) >= int(r["visible"]) >= 0 for r in rows.values())


def test_matview_freshness_reports_the_last_refresh(scenario: dict, main_db: Database) -> None:
    rows = {r["view_name"]: r for r in dashboard("matview_freshness", scenario["b"], main_db.app)}
    summary = rows["mv_daily_revenue_summary"]
    assert summary["last_outcome"] in ("refreshed", "skipped_locked")
    assert int(summary["refreshes_24h"]) >= 1


@pytest.mark.parametrize("name", sorted(p.stem for p in DASHBOARDS.glob("*.sql")))
def test_dashboard_runs_as_app_ro_with_the_same_rows(name: str, scenario: dict, main_db: Database) -> None:
    query = (DASHBOARDS / f"{name}.sql").read_text()
    with psycopg.connect(main_db.admin) as conn:
        conn.execute("SET LOCAL ROLE app_ro")
        conn.execute("SELECT api.tenant_set(%s)", [scenario["a"]])
        as_ro = conn.execute(query).fetchall()
    with psycopg.connect(main_db.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [scenario["a"]])
        as_app = conn.execute(query).fetchall()
    assert len(as_ro) == len(as_app) > 0


def test_dashboard_runs_with_psql_under_a_tenant_guc(scenario: dict, main_db: Database) -> None:
    result = subprocess.run(
        ["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "--csv", "-d", main_db.app,
         "-c", "\\o /dev/null", "-c", f"SELECT api.tenant_set('{scenario['a']}')", "-c", "\\o",
         "-f", str(DASHBOARDS / "dead_letters_by_reason.sql")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["reason"], r["pending"]) for r in rows] == [("invalid_json", "1")]


def test_dashboard_cli_prints_a_table(scenario: dict, main_db: Database) -> None:
    result = cli(["dashboard", "dead_letters_by_reason", "--tenant", scenario["a"]], main_db.app)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["vendor", "reason", "total", "pending", "replayed", "oldest_pending_at", "newest_at"]
    assert lines[2].split()[:5] == ["stripe", "invalid_json", "1", "1", "0"]
    assert lines[-1] == "(1 row)"


def test_dashboard_cli_takes_a_slug_as_dlq_list_does(scenario: dict, main_db: Database) -> None:
    by_slug = dashboard("ingestion_outcomes", scenario["a_slug"], main_db.app)
    assert by_slug == dashboard("ingestion_outcomes", scenario["a"], main_db.app) != []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dashboard", "nope"], "unknown dashboard 'nope'"),
        (["dashboard", "failed_jobs", "--tenant", "no-such-store"], "dashboard failed_jobs: no tenant no-such-store"),
        (["dashboard", "ingestion_outcomes"], "dashboard ingestion_outcomes shows one tenant's rows: pass --tenant"),
    ],
)
def test_dashboard_cli_errors_are_one_line(args: list[str], message: str, main_db: Database) -> None:
    result = cli(args, main_db.app)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
