"""Issue 20: the openai provider against a local chat-completions server, through the real worker.

The server below speaks the wire protocol (``POST /v1/chat/completions``, bearer token, the
chat-completion answer with usage) and is steered per test: success, 429, 500, slow, an
answer that is not JSON, a body that is not a chat completion, the wrong shape, no usage.
Models are registered with the real CLI; calls are requested in SQL as app_user and served
by a real ``skeldir worker --queues llm``. Every prompt carries a marker and the API key is
a unique string: the last test scans every table, the logs and /metrics for both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from skeldir.ops.cluster import TEMPLATE_DATABASE, Cluster
from skeldir.worker.llm import tasks
from support import free_port, stop_process, wait_for, wait_http

MARKER = f"PROMPT-SECRET-{uuid.uuid4().hex[:12]}"
API_KEY = f"sk-test-{uuid.uuid4().hex}"
USAGE = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}
LARGE, SMALL = "gpt-test-large", "gpt-test-small"  # 2.5 / 10 and 0.5 / 1 USD per million tokens


@dataclass
class ChatServer:
    """State shared with the handler threads: what to answer, and every request seen."""

    mode: str = "ok"
    content: Any = field(default_factory=lambda: {"explanation": "revenue rose with paid search", "note": "extra"})
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


def _handler(state: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/chat/completions":
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            body = json.loads(raw)
            with state.lock:
                state.requests.append({"authorization": self.headers.get("Authorization"), "body": body})
                mode = state.mode
            prompt = body["messages"][-1]["content"]
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                # Like OpenAI, the refusal quotes the key it was given.
                refusal = {"error": {"message": f"Incorrect API key: {self.headers.get('Authorization')}",
                                     "code": "invalid_api_key"}}  # fmt: skip
                self._send(401, json.dumps(refusal).encode())
                return
            if mode == "429":
                error = {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
                self._send(429, json.dumps({"error": error}).encode())
                return
            if mode == "500":  # a broken upstream echoing everything it got
                self._send(500, json.dumps({"error": {"message": f"boom {API_KEY} {prompt}"}}).encode())
                return
            if mode == "html":
                self._send(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                return
            if mode == "slow":
                time.sleep(2.0)
            content = state.content if isinstance(state.content, str) else json.dumps(state.content)
            if mode == "not_json":
                content = "Sure! Here is the JSON you asked for: {explanation: revenue"
            if mode == "wrong_shape":
                content = json.dumps({"answer": "revenue rose"})
            answer: dict[str, Any] = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:8]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
            }
            if mode != "no_usage":
                answer["usage"] = USAGE
            self._send(200, json.dumps(answer).encode())

    return Handler


@dataclass
class Env:
    server: ChatServer
    migration: str
    app: str
    admin: str
    proc_env: dict[str, str]
    key_file: Path
    logs: list[Path]
    metrics_url: str = ""

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with psycopg.connect(self.migration, autocommit=True) as conn:
            cur = conn.execute(query, params or [])
            return cur.fetchall() if cur.description else []

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "skeldir.cli", *args], env=self.proc_env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    def tenant(self) -> str:
        return self.sql("SELECT tenant_id FROM api.tenant_create(%s)", [f"OpenAI {uuid.uuid4().hex[:6]}"])[0][0]

    def run(self, tenant: str, rid: str, prompt: str, task: str = "explanation", model: str = LARGE) -> dict:
        """Requests one call in SQL as app_user and waits until the worker completed it."""
        inputs = {"prompt": f"{prompt} {MARKER}", "model": model}
        with psycopg.connect(self.app) as conn:
            conn.execute("SELECT api.tenant_set(%s)", [tenant])
            conn.execute("SELECT api.llm_request(%s, %s, %s, 'analyst-3')", [task, rid, json.dumps(inputs)])

        def done() -> dict | None:
            with psycopg.connect(self.app) as conn:
                conn.execute("SELECT api.tenant_set(%s)", [tenant])
                cur = conn.execute("SELECT * FROM api.llm_calls WHERE request_id = %s AND status <> 'pending'", [rid])
                row = cur.fetchone()
                return dict(zip([d.name for d in cur.description or []], row, strict=True)) if row else None

        return wait_for(done, timeout=30)  # type: ignore[return-value]

    def seen(self) -> int:
        with self.server.lock:
            return len(self.server.requests)


@pytest.fixture(scope="module")
def env(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = ChatServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"

    name = f"llmo_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DATABASE}')
    tmp = tmp_path_factory.mktemp("llm-openai")
    key_file = tmp / "openai.key"
    key_file.write_text(API_KEY + "\n")
    e = Env(
        server=state,
        migration=cluster.dsn("migration_owner", name),
        app=cluster.dsn("app_user", name),
        admin=cluster.admin_dsn(name),
        proc_env={},
        key_file=key_file,
        logs=[tmp / "worker.log", cluster.log_file],
    )
    e.proc_env = {
        **os.environ,
        "SKELDIR_DATABASE_URL": e.app,
        "SKELDIR_MIGRATION_DATABASE_URL": e.migration,
        "SKELDIR_LLM_OPENAI_BASE_URL": state.url,
        "SKELDIR_LLM_OPENAI_API_KEY_FILE": str(key_file),
        "PYTHONUNBUFFERED": "1",
    }
    e.proc_env.pop("SKELDIR_LLM_OPENAI_API_KEY", None)
    for args in (
        ["llm", "model", "set", SMALL, "--provider", "openai", "--input-usd-per-mtok", "0.5",
         "--output-usd-per-mtok", "1"],
        ["llm", "model", "set", LARGE, "--provider", "openai", "--input-usd-per-mtok", "2.5",
         "--output-usd-per-mtok", "10", "--cheaper-model", SMALL],
    ):  # fmt: skip
        result = e.cli(*args)
        assert result.returncode == 0, result.stderr
    metrics = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "skeldir.cli", "worker", "--queues", "llm", "--metrics-port", str(metrics)],
        env=e.proc_env,
        stdout=e.logs[0].open("a"),
        stderr=subprocess.STDOUT,
    )
    e.metrics_url = f"http://127.0.0.1:{metrics}/metrics"
    wait_http(e.metrics_url)
    yield e
    stop_process(worker)
    server.shutdown()
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def healthy(env: Env) -> Iterator[None]:
    """Each test starts with a closed breaker, a healthy server and roomy limits."""
    env.sql("SELECT api.llm_breaker_reset('openai')")
    env.sql(
        "UPDATE skeldir.llm_settings SET call_timeout_ms = 5000, breaker_failure_threshold = 2,"
        " breaker_cooldown = '1 hour', default_hourly_shutoff_usd = 5, default_monthly_budget_usd = 100"
    )
    env.server.mode = "ok"
    env.server.content = {"explanation": "revenue rose with paid search", "note": "extra"}
    yield


def test_model_list_shows_the_models_registered_by_the_cli(env: Env) -> None:
    result = env.cli("llm", "model", "list", "--csv")
    assert result.returncode == 0, result.stderr
    rows = {line.split(",")[0]: line for line in result.stdout.splitlines()[1:]}
    assert rows[LARGE] == f"{LARGE},openai,2.5,10,{SMALL},false"
    assert rows[SMALL] == f"{SMALL},openai,0.5,1,,false"
    refused = env.cli("llm", "model", "set", SMALL, "--provider", "openai", "--input-usd-per-mtok", "9",
                      "--output-usd-per-mtok", "9")  # fmt: skip
    assert refused.returncode == 1
    assert f"model {LARGE} routes to {SMALL} under budget pressure and would cost less than it" in refused.stderr


def test_success_sends_the_contract_request_and_audits_usage_priced_in_sql(env: Env) -> None:
    tenant = env.tenant()
    before = env.seen()
    call = env.run(tenant, "ok-1", "Explain last week's revenue")
    assert env.seen() == before + 1
    sent = env.server.requests[-1]
    assert sent["authorization"] == f"Bearer {API_KEY}"
    body = sent["body"]
    assert body["model"] == LARGE
    assert body["response_format"] == {"type": "json_object"}
    assert body.get("stream") in (None, False)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == tasks.SYSTEM_PROMPTS["explanation"]
    assert body["messages"][1]["content"] == f"Explain last week's revenue {MARKER}"
    assert (call["status"], call["provider"], call["model"], call["requested_model"]) == (
        "success",
        "openai",
        LARGE,
        LARGE,
    )
    assert (call["input_tokens"], call["output_tokens"], call["provider_attempted"]) == (1200, 300, True)
    assert float(call["cost_usd"]) == 0.006  # 1200 * 2.5 / 1e6 + 300 * 10 / 1e6
    assert call["result"] == {"explanation": "revenue rose with paid search"}  # checked, extra key dropped
    metrics = httpx.get(env.metrics_url).text
    assert 'skeldir_llm_provider_calls_total{outcome="success",provider="openai"}' in metrics


def test_every_task_gets_its_system_message_and_its_shape_checked(env: Env) -> None:
    tenant = env.tenant()
    answers = {
        "route": {"route": "reconciliation", "confidence": 0.9},
        "investigation": {"summary": "paid dropped", "findings": [{"signal": "paid", "severity": 2}]},
        "budget_optimization": {"summary": "shift", "recommendations": [{"channel": "email", "change_pct": -5}]},
    }
    for task, answer in answers.items():
        env.server.content = answer
        call = env.run(tenant, f"task-{task}", f"a {task} question", task=task)
        assert (call["status"], call["result"]) == ("success", answer), task
        assert env.server.requests[-1]["body"]["messages"][0]["content"] == tasks.SYSTEM_PROMPTS[task]
    with psycopg.connect(env.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant])
        assert conn.execute("SELECT findings FROM api.llm_investigations").fetchall() == [(answers["investigation"],)]


def test_429_and_500_are_errors_that_open_the_breaker_without_leaking_the_body(env: Env) -> None:
    tenant = env.tenant()
    before = env.seen()
    env.server.mode = "429"
    limited = env.run(tenant, "e-429", "rate limited")
    assert (limited["status"], limited["provider_attempted"]) == ("error", True)
    assert limited["error"] == "provider answered HTTP 429 (rate_limit_exceeded)"
    env.server.mode = "500"
    broken = env.run(tenant, "e-500", "server error")
    assert (broken["status"], broken["error"]) == ("error", "provider answered HTTP 500")
    assert env.seen() == before + 2  # no client retries: one request per call
    assert env.sql("SELECT state, consecutive_failures FROM api.llm_breakers WHERE provider = 'openai'") == [
        ("open", 2)
    ]
    env.server.mode = "ok"
    blocked = env.run(tenant, "e-open", "while open")
    assert (blocked["status"], blocked["blocked_reason"], blocked["provider_attempted"]) == (
        "blocked",
        "breaker_open",
        False,
    )
    assert env.seen() == before + 2


def test_an_answer_slower_than_the_timeout_is_a_timeout(env: Env) -> None:
    tenant = env.tenant()
    env.sql("UPDATE skeldir.llm_settings SET call_timeout_ms = 300")
    env.server.mode = "slow"
    call = env.run(tenant, "slow-1", "slow answer")
    assert (call["status"], call["provider_attempted"], call["error"]) == ("timeout", True, "no answer within 300 ms")
    assert call["latency_ms"] < 1500  # cut off at the timeout, not waited out (the server takes 2 s)


@pytest.mark.parametrize(
    ("mode", "reason", "tokens"),
    [
        ("not_json", "answer is not JSON", (1200, 300)),
        ("wrong_shape", "answer does not match the explanation shape: 'explanation' must be a non-empty string",
         (1200, 300)),
        ("html", "provider answer is not a chat completion", (0, 0)),
        ("no_usage", "provider answer carries no usage; its tokens cannot be priced", (0, 0)),
    ],
)  # fmt: skip
def test_a_bad_answer_is_an_error_with_its_reason_and_billed_tokens(
    env: Env, mode: str, reason: str, tokens: tuple[int, int]
) -> None:
    tenant = env.tenant()
    env.server.mode = mode
    call = env.run(tenant, f"bad-{mode}", f"bad answer {mode}")
    assert (call["status"], call["provider_attempted"], call["error"]) == ("error", True, reason)
    assert (call["input_tokens"], call["output_tokens"]) == tokens
    assert call["result"] is None


def test_a_rotated_key_file_is_read_on_the_next_call_and_a_refusal_does_not_leak_the_key(env: Env) -> None:
    tenant = env.tenant()
    wrong = f"sk-wrong-{uuid.uuid4().hex}"
    env.key_file.write_text(wrong)
    try:
        refused = env.run(tenant, "key-wrong", "with a wrong key")
        assert env.server.requests[-1]["authorization"] == f"Bearer {wrong}"
    finally:
        env.key_file.write_text(API_KEY)
    assert (refused["status"], refused["error"]) == ("error", "provider answered HTTP 401 (invalid_api_key)")
    assert env.run(tenant, "key-right", "with the right key")["status"] == "success"
    assert wrong not in json.dumps(env.sql("SELECT to_jsonb(c) FROM skeldir.llm_api_calls AS c"), default=str)


def test_budget_pressure_routes_to_the_cheaper_model_and_the_dashboards_show_it(env: Env) -> None:
    tenant = env.tenant()
    # A large call costs 0.006; with a budget of 0.0075 routing down starts at 0.006 (80%).
    env.sql("SELECT api.llm_tenant_limits_set(%s, NULL, 0.0075)", [tenant])
    first = env.run(tenant, "bp-1", "first under budget")
    assert (first["requested_model"], first["model"]) == (LARGE, LARGE)  # negative control: 0 < 0.006
    assert env.server.requests[-1]["body"]["model"] == LARGE
    second = env.run(tenant, "bp-2", "second under pressure")
    assert env.server.requests[-1]["body"]["model"] == SMALL
    assert (second["status"], second["requested_model"], second["model"]) == ("success", LARGE, SMALL)
    assert float(second["cost_usd"]) == 0.0009  # priced as the small model: 1200 * 0.5 / 1e6 + 300 * 1 / 1e6

    def dashboard(name: str) -> list[dict[str, str]]:
        result = env.cli("dashboard", name, "--tenant", str(tenant), "--csv")
        assert result.returncode == 0, result.stderr
        header, *rows = [line.split(",") for line in result.stdout.splitlines()]
        return [dict(zip(header, row, strict=True)) for row in rows]

    controls = {r["control"]: r for r in dashboard("llm_breaker_shutoff")}
    assert controls["budget_pressure"]["state"] == "routing_down"
    assert float(controls["budget_pressure"]["threshold"]) == 0.006
    assert [(r["calls"], r["routed_calls"]) for r in dashboard("llm_monthly_spend")] == [("2", "1")]
    latency = {(r["requested_model"], r["model"]): r["calls"] for r in dashboard("llm_provider_cost_latency")}
    assert latency == {(LARGE, LARGE): "1", (LARGE, SMALL): "1"}


def test_missing_or_doubled_key_configuration_is_an_error_naming_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from skeldir.worker.llm.provider import OpenAIProvider, ProviderError

    monkeypatch.delenv("SKELDIR_LLM_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SKELDIR_LLM_OPENAI_API_KEY_FILE", raising=False)
    with pytest.raises(ProviderError, match="no API key: set SKELDIR_LLM_OPENAI_API_KEY or"):
        OpenAIProvider.connection()
    monkeypatch.setenv("SKELDIR_LLM_OPENAI_API_KEY", "sk-env")
    assert OpenAIProvider.connection() == ("https://api.openai.com/v1", "sk-env")
    monkeypatch.setenv("SKELDIR_LLM_OPENAI_API_KEY_FILE", "/nonexistent/key")
    with pytest.raises(ProviderError, match="not both"):
        OpenAIProvider.connection()
    monkeypatch.delenv("SKELDIR_LLM_OPENAI_API_KEY")
    with pytest.raises(ProviderError, match=r"cannot be read \(No such file or directory\)"):
        OpenAIProvider.connection()


def test_neither_the_key_nor_a_prompt_is_in_any_table_log_or_metric(env: Env) -> None:
    """Runs last in this module: every outcome above has been recorded by now."""
    tenant = env.tenant()
    env.server.mode = "500"
    env.run(tenant, "scan-500", "scan with an echoing server")
    with psycopg.connect(env.admin) as conn:
        assert conn.execute("SELECT count(*) FROM skeldir.llm_api_calls WHERE status = 'pending'").fetchone() == (0,)
        tables = conn.execute(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            "   AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchall()
        assert ("pgmq.a_llm",) in tables
        scan = "SELECT count(*) FROM {} AS t WHERE t::text LIKE %s"
        hits = {
            (table, secret): n
            for (table,) in tables
            for secret in (API_KEY, MARKER)
            if (n := conn.execute(scan.format(table), [f"%{secret}%"]).fetchone()[0])
        }
    assert hits == {}
    metrics = httpx.get(env.metrics_url).text
    assert API_KEY not in metrics and MARKER not in metrics
    for path in env.logs:
        text = path.read_text()
        assert API_KEY not in text, path
        assert MARKER not in text, path
