"""Issue 5 end to end: real shell and worker processes on a private database, stub provider.

Every negative control counts real provider calls in the file the stub appends to, so a
control that were absent (a blocked call that still reached the provider) fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from skeldir.ops import admin
from skeldir.ops.cluster import TEMPLATE_DATABASE, Cluster
from support import free_port, stop_process, wait_for, wait_http

# Every prompt of this module carries the marker; the last test scans the database for it.
MARKER = f"PROMPT-SECRET-{uuid.uuid4().hex[:12]}"


@dataclass
class LlmEnv:
    url: str
    migration: str
    app: str
    admin: str
    stub_config: Path
    stub_calls: Path
    logs: list[Path]
    proc_env: dict[str, str]
    worker: subprocess.Popen | None = None
    metrics_url: str = ""

    def start_worker(self) -> None:
        metrics = free_port()
        self.worker = _process(
            ["worker", "--queues", "llm", "--metrics-port", str(metrics)], self.proc_env, self.logs[1]
        )
        self.metrics_url = f"http://127.0.0.1:{metrics}/metrics"
        wait_http(self.metrics_url)

    def stub(self, **config: object) -> None:
        self.stub_config.write_text(json.dumps(config))

    def provider_calls(self) -> int:
        return len(self.stub_calls.read_text().splitlines()) if self.stub_calls.exists() else 0

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with psycopg.connect(self.migration, autocommit=True) as conn:
            cur = conn.execute(query, params or [])
            return cur.fetchall() if cur.description else []

    def tenant(self, name: str = "LLM Store") -> dict:
        return admin.tenant_create(self.migration, name, self.url)


def _process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "skeldir.cli", *args], env=env, stdout=log.open("a"), stderr=subprocess.STDOUT
    )


@pytest.fixture(scope="module")
def llm(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlmEnv]:
    """A private clone of the deployed template with its own `skeldir serve` and `skeldir worker --queues llm`."""
    name = f"llm_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DATABASE}')
    tmp = tmp_path_factory.mktemp("llm")
    env = LlmEnv(
        url="",
        migration=cluster.dsn("migration_owner", name),
        app=cluster.dsn("app_user", name),
        admin=cluster.admin_dsn(name),
        stub_config=tmp / "stub.json",
        stub_calls=tmp / "stub-calls.jsonl",
        logs=[tmp / "shell.log", tmp / "worker.log", cluster.log_file],
        proc_env={},
    )
    env.stub()
    env.proc_env = {
        **os.environ,
        "SKELDIR_DATABASE_URL": env.app,
        "SKELDIR_LLM_STUB_CONFIG": str(env.stub_config),
        "SKELDIR_LLM_STUB_CALLS_FILE": str(env.stub_calls),
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    shell = _process(["serve", "--port", str(port)], env.proc_env, env.logs[0])
    env.url = f"http://127.0.0.1:{port}"
    env.start_worker()
    wait_http(f"{env.url}/health/live")
    yield env
    stop_process(shell)
    if env.worker is not None:
        stop_process(env.worker)
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def clean_controls(llm: LlmEnv) -> Iterator[None]:
    """Each test starts with the switch off, the breaker closed and a healthy stub."""
    llm.sql("SELECT api.llm_kill_switch_set(false)")
    llm.sql("SELECT api.llm_breaker_reset('stub')")
    llm.sql(
        "UPDATE skeldir.llm_settings SET call_timeout_ms = 5000, breaker_failure_threshold = 3,"
        " breaker_cooldown = '30 seconds', default_hourly_shutoff_usd = 5, default_monthly_budget_usd = 100,"
        " redelivery_margin = '30 seconds'"
    )
    llm.stub(latency_ms=5)
    yield


def ask(
    llm: LlmEnv, tenant: dict, rid: str, prompt: str, task: str = "explanation", **inputs: object
) -> httpx.Response:
    return httpx.post(
        f"{llm.url}/api/llm/{task}",
        json={"request_id": rid, "inputs": {"prompt": f"{prompt} {MARKER}", **inputs}},
        headers={"X-Skeldir-Tenant-Key": tenant["api_key"], "X-Skeldir-User-Id": "analyst-7"},
    )


def outcome(llm: LlmEnv, tenant: dict, rid: str) -> dict:
    """The call once it is no longer pending (polls the status URL)."""

    def done() -> dict | None:
        body = httpx.get(f"{llm.url}/api/llm/calls/{rid}", headers={"X-Skeldir-Tenant-Key": tenant["api_key"]}).json()
        return body if body.get("status") != "pending" else None

    return wait_for(done)  # type: ignore[return-value]


def run(llm: LlmEnv, tenant: dict, rid: str, prompt: str, task: str = "explanation", **inputs: object) -> dict:
    assert ask(llm, tenant, rid, prompt, task, **inputs).status_code == 202
    return outcome(llm, tenant, rid)


def test_request_answers_202_with_status_url_and_completes_with_a_priced_success(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    before = llm.provider_calls()
    llm.stub(latency_ms=5, input_tokens=1000, output_tokens=500)
    response = ask(llm, tenant, "req-1", "Explain last week's revenue")
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "pending"
    assert accepted["status_url"] == "/api/llm/calls/req-1"
    assert accepted["duplicate"] is False
    call = outcome(llm, tenant, "req-1")
    assert call["status"] == "success"
    assert call["provider_attempted"] is True
    assert (call["provider"], call["model"], call["input_tokens"], call["output_tokens"]) == (
        "stub",
        "stub-small",
        1000,
        500,
    )
    assert call["cost_usd"] == 0.002  # 1000 * $1/M + 500 * $2/M
    assert call["latency_ms"] > 0
    assert call["result"]["explanation"].startswith("stub explanation")
    assert llm.provider_calls() == before + 1
    metrics = httpx.get(llm.metrics_url).text
    assert 'skeldir_llm_provider_calls_total{outcome="success",provider="stub"}' in metrics


def test_duplicate_request_id_returns_the_same_call_and_writes_nothing_new(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    before = llm.provider_calls()
    first = ask(llm, tenant, "dup-1", "Same question")
    second = ask(llm, tenant, "dup-1", "Same question")
    outcome(llm, tenant, "dup-1")
    third = ask(llm, tenant, "dup-1", "Same question")
    assert first.status_code == 202
    assert (second.status_code, third.status_code) == (200, 200)
    ids = {r.json()["call_id"] for r in (first, second, third)}
    assert len(ids) == 1
    assert third.json()["duplicate"] is True and third.json()["status"] == "success"
    with psycopg.connect(llm.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        assert conn.execute("SELECT count(*) FROM api.llm_calls WHERE request_id = 'dup-1'").fetchone() == (1,)
    assert llm.provider_calls() == before + 1


def test_concurrent_duplicates_from_many_sessions_make_one_call(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    before = llm.provider_calls()
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: ask(llm, tenant, "race-1", "Raced question"), range(12)))
    assert sorted(r.status_code for r in responses) == [200] * 11 + [202]
    assert len({r.json()["call_id"] for r in responses}) == 1
    assert outcome(llm, tenant, "race-1")["status"] == "success"
    with psycopg.connect(llm.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        assert conn.execute("SELECT count(*) FROM api.llm_calls").fetchone() == (1,)
    assert llm.provider_calls() == before + 1


def test_kill_switch_blocks_with_an_audit_row_and_no_provider_call(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    cli_env = {**os.environ, "SKELDIR_MIGRATION_DATABASE_URL": llm.migration}
    switch = subprocess.run([sys.executable, "-m", "skeldir.cli", "llm", "kill-switch", "on"],
                            env=cli_env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert switch.returncode == 0, switch.stderr
    assert "on" in switch.stdout
    before = llm.provider_calls()
    call = run(llm, tenant, "ks-1", "Blocked question")
    assert (call["status"], call["blocked_reason"], call["provider_attempted"]) == (
        "blocked",
        "provider_kill_switch",
        False,
    )
    assert llm.provider_calls() == before
    off = subprocess.run([sys.executable, "-m", "skeldir.cli", "llm", "kill-switch", "off"],
                         env=cli_env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert off.returncode == 0, off.stderr
    # The same path with the switch off does reach the provider: the control is what blocked it.
    assert run(llm, tenant, "ks-2", "Allowed question")["status"] == "success"
    assert llm.provider_calls() == before + 1


def test_breaker_opens_after_consecutive_failures_and_a_success_after_cool_down_closes_it(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    llm.sql("UPDATE skeldir.llm_settings SET breaker_cooldown = '1 hour'")
    llm.stub(latency_ms=5, fail=True)
    before = llm.provider_calls()
    for i in range(3):
        call = run(llm, tenant, f"br-fail-{i}", f"failing {i}")
        assert (call["status"], call["provider_attempted"]) == ("error", True)
    assert llm.provider_calls() == before + 3
    assert llm.sql("SELECT state FROM api.llm_breakers WHERE provider = 'stub'") == [("open",)]

    llm.stub(latency_ms=5)
    blocked = run(llm, tenant, "br-open", "while open")
    assert (blocked["status"], blocked["blocked_reason"], blocked["provider_attempted"]) == (
        "blocked",
        "breaker_open",
        False,
    )
    assert llm.provider_calls() == before + 3

    # The operator shortens the cool-down: it has now elapsed, so the next call is the half-open
    # trial (slow enough to observe the half-open state while it is in flight).
    llm.sql("UPDATE skeldir.llm_settings SET breaker_cooldown = '0'")
    llm.stub(latency_ms=1500)
    assert ask(llm, tenant, "br-trial", "trial").status_code == 202
    wait_for(lambda: llm.sql("SELECT state FROM api.llm_breakers WHERE provider = 'stub'") == [("half_open",)])
    trial = outcome(llm, tenant, "br-trial")
    assert (trial["status"], trial["provider_attempted"]) == ("success", True)
    assert llm.sql("SELECT state, consecutive_failures FROM api.llm_breakers WHERE provider = 'stub'") == [
        ("closed", 0)
    ]
    assert llm.provider_calls() == before + 4


def test_hourly_shutoff_blocks_at_the_threshold_and_not_below(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    llm.sql("SELECT api.llm_tenant_limits_set(%s, 0.004, 100)", [tenant["tenant_id"]])
    llm.stub(latency_ms=5, input_tokens=1000, output_tokens=500)  # $0.002 per call
    before = llm.provider_calls()
    assert run(llm, tenant, "h-1", "hourly 1")["status"] == "success"  # spend 0.000 < 0.004
    assert run(llm, tenant, "h-2", "hourly 2")["status"] == "success"  # spend 0.002 < 0.004
    third = run(llm, tenant, "h-3", "hourly 3")  # spend 0.004 = 0.004
    assert (third["status"], third["blocked_reason"], third["provider_attempted"]) == (
        "blocked",
        "hourly_shutoff",
        False,
    )
    assert llm.provider_calls() == before + 2


def test_monthly_budget_blocks_at_the_threshold_and_not_below(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    llm.sql("SELECT api.llm_tenant_limits_set(%s, 100, 0.004)", [tenant["tenant_id"]])
    llm.stub(latency_ms=5, input_tokens=1000, output_tokens=500)
    before = llm.provider_calls()
    assert run(llm, tenant, "m-1", "monthly 1")["status"] == "success"
    assert run(llm, tenant, "m-2", "monthly 2")["status"] == "success"
    third = run(llm, tenant, "m-3", "monthly 3")
    assert (third["status"], third["blocked_reason"]) == ("blocked", "budget_exceeded")
    assert llm.provider_calls() == before + 2
    with psycopg.connect(llm.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        spend = conn.execute(
            "SELECT calls, provider_calls, blocked_calls, cost_usd FROM api.llm_monthly_spend"
        ).fetchall()
    assert [(c, p, b, float(cost)) for c, p, b, cost in spend] == [(3, 2, 1, 0.004)]


def test_cache_hit_answers_without_a_provider_call(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    before = llm.provider_calls()
    first = run(llm, tenant, "c-1", "Cache me")
    second = run(llm, tenant, "c-2", "Cache me")
    assert first["status"] == "success"
    assert (second["status"], second["provider_attempted"], second["cached_from"]) == (
        "cached",
        False,
        first["call_id"],
    )
    assert second["result"] == first["result"]
    assert second["cost_usd"] == 0
    assert llm.provider_calls() == before + 1


def test_provider_slower_than_the_timeout_is_recorded_as_timeout(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    llm.sql("UPDATE skeldir.llm_settings SET call_timeout_ms = 200")
    llm.stub(latency_ms=3000)
    call = run(llm, tenant, "t-1", "Slow question")
    assert (call["status"], call["provider_attempted"]) == ("timeout", True)
    assert call["latency_ms"] < 3000  # cut off by the hard timeout, not waited out
    assert "200 ms" in call["error"]


def test_killed_worker_loses_nothing_and_the_redelivered_call_keeps_one_audit_row(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    llm.sql("UPDATE skeldir.llm_settings SET call_timeout_ms = 3000, redelivery_margin = '0'")
    llm.stub(latency_ms=2500)
    before = llm.provider_calls()
    assert ask(llm, tenant, "kill-1", "Question in flight").status_code == 202
    wait_for(lambda: llm.provider_calls() == before + 1)  # the provider call is in flight
    assert llm.worker is not None
    llm.worker.kill()
    llm.worker.wait()
    llm.stub(latency_ms=5)
    llm.start_worker()
    call = outcome(llm, tenant, "kill-1")  # visible again after the 3 s visibility timeout
    assert (call["status"], call["provider_attempted"]) == ("success", True)
    assert llm.provider_calls() == before + 2
    with psycopg.connect(llm.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        assert conn.execute("SELECT count(*), max(deliveries) FROM api.llm_calls").fetchone() == (1, 2)


def test_investigation_and_budget_optimization_write_their_result_rows(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    inv = run(llm, tenant, "inv-1", "Why did paid revenue drop?", task="investigation")
    job = run(llm, tenant, "opt-1", "Rebalance the budget", task="budget_optimization", budget_minor=100000)
    with psycopg.connect(llm.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        investigations = conn.execute("SELECT call_id, status, findings FROM api.llm_investigations").fetchall()
        jobs = conn.execute("SELECT call_id, status, result FROM api.llm_budget_jobs").fetchall()
    assert investigations == [(inv["call_id"], "success", inv["result"])]
    assert "findings" in inv["result"]
    assert jobs == [(job["call_id"], "success", job["result"])]
    assert "recommendations" in job["result"]


def test_bad_requests_get_clear_errors_and_store_nothing(llm: LlmEnv) -> None:
    tenant = llm.tenant()
    headers = {"X-Skeldir-Tenant-Key": tenant["api_key"], "X-Skeldir-User-Id": "u"}
    bad_task = httpx.post(
        f"{llm.url}/api/llm/poetry", json={"request_id": "x-1", "inputs": {"prompt": "p"}}, headers=headers
    )
    assert bad_task.status_code == 400
    assert bad_task.json()["error"] == "unknown LLM task poetry"
    assert "route, explanation" in bad_task.json()["hint"]
    not_json = httpx.post(f"{llm.url}/api/llm/route", content=b"{nope", headers=headers)
    assert (not_json.status_code, not_json.json()["status"]) == (400, "bad_request")
    no_user = httpx.post(f"{llm.url}/api/llm/route", json={"request_id": "x-2", "inputs": {"prompt": "p"}},
                         headers={"X-Skeldir-Tenant-Key": tenant["api_key"]})  # fmt: skip
    assert no_user.status_code == 400 and "X-Skeldir-User-Id" in no_user.json()["hint"]
    unknown_key = httpx.post(f"{llm.url}/api/llm/route", json={"request_id": "x-3", "inputs": {"prompt": "p"}},
                             headers={"X-Skeldir-Tenant-Key": "skd_nope", "X-Skeldir-User-Id": "u"})  # fmt: skip
    assert (unknown_key.status_code, unknown_key.json()) == (401, {"status": "unauthorized"})
    missing = httpx.get(f"{llm.url}/api/llm/calls/never-sent", headers={"X-Skeldir-Tenant-Key": tenant["api_key"]})
    assert missing.status_code == 404
    assert ask(llm, tenant, "x-4", "first body").status_code == 202
    reused = ask(llm, tenant, "x-4", "another body")
    assert reused.status_code == 409 and reused.json()["status"] == "conflict"
    with psycopg.connect(llm.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        assert conn.execute("SELECT array_agg(request_id) FROM api.llm_calls").fetchone() == (["x-4"],)


def test_other_tenant_cannot_read_a_call(llm: LlmEnv) -> None:
    owner, other = llm.tenant("Owner"), llm.tenant("Other")
    run(llm, owner, "own-1", "Private question")
    peek = httpx.get(f"{llm.url}/api/llm/calls/own-1", headers={"X-Skeldir-Tenant-Key": other["api_key"]})
    assert peek.status_code == 404
    with psycopg.connect(llm.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [other["tenant_id"]])
        assert conn.execute("SELECT count(*) FROM api.llm_calls").fetchone() == (0,)


def test_no_prompt_text_is_persisted_in_any_table_or_log(llm: LlmEnv) -> None:
    """Scripted run through every outcome, then a scan of every column of every table."""
    tenant = llm.tenant()
    run(llm, tenant, "scan-ok", "scan success")
    run(llm, tenant, "scan-cached", "scan success")
    run(llm, tenant, "scan-inv", "scan investigation", task="investigation")
    llm.stub(latency_ms=5, fail=True)
    run(llm, tenant, "scan-error", "scan error")
    llm.stub(latency_ms=5)
    llm.sql("SELECT api.llm_kill_switch_set(true)")
    run(llm, tenant, "scan-blocked", "scan blocked")
    llm.sql("SELECT api.llm_kill_switch_set(false)")
    assert ask(llm, tenant, "scan-bad", "scan bad", task="poetry").status_code == 400

    with psycopg.connect(llm.admin) as conn:
        pending = conn.execute("SELECT count(*) FROM skeldir.llm_api_calls WHERE status = 'pending'").fetchone()
        assert pending == (0,)
        tables = conn.execute(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            "   AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchall()
        assert ("pgmq.a_llm",) in tables and ("skeldir.llm_api_calls",) in tables
        archived = conn.execute("SELECT count(*) FROM pgmq.a_llm").fetchone()
        assert archived is not None and archived[0] >= 4  # the messages did carry prompts once
        hits = {
            table: n
            for (table,) in tables
            if (
                n := conn.execute(
                    f"SELECT count(*) FROM {table} AS t WHERE t::text LIKE %s", [f"%{MARKER}%"]
                ).fetchone()[0]
            )
        }
    assert hits == {}
    for path in [*llm.logs, llm.stub_calls]:
        assert MARKER not in path.read_text(), path
