"""The provider boundary in-process (no database): task shapes, and outcomes that need no server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from typing import Any

import pytest

from skeldir.worker.llm import provider, tasks


def outcome(name: str, task: str = "explanation", timeout_ms: int = 2000, **inputs: Any) -> provider.Outcome:
    return asyncio.run(provider.call(name, task, "gpt-test", {"prompt": "why", **inputs}, timeout_ms))


@pytest.mark.parametrize("task", sorted(tasks.SYSTEM_PROMPTS))
def test_the_stub_answers_every_task_in_its_checked_shape(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKELDIR_LLM_STUB_CONFIG", raising=False)
    monkeypatch.setenv("SKELDIR_LLM_STUB_LATENCY_MS", "0")
    result = outcome("stub", task)
    assert result.kind == "success"
    assert result.result == tasks.check(task, result.result)


@pytest.mark.parametrize(
    ("task", "answer", "reason"),
    [
        ("route", {"route": "weather", "confidence": 0.5}, "'route' must be one of"),
        ("route", {"route": "revenue", "confidence": 1.5}, "'confidence' must be between 0 and 1"),
        ("route", {"route": "revenue", "confidence": True}, "'confidence' must be a number"),
        ("explanation", {"explanation": "  "}, "'explanation' must be a non-empty string"),
        ("explanation", ["not", "an", "object"], "the answer must be a JSON object"),
        ("investigation", {"summary": "s", "findings": [{"signal": "paid", "severity": 3}]},
         "findings[0].'severity' must be 0, 1 or 2"),
        ("investigation", {"summary": "s", "findings": [{"signal": "paid", "severity": 0}] * 51},
         "'findings' must be a list of at most 50 objects"),
        ("budget_optimization", {"summary": "s", "recommendations": [{"channel": "paid", "change_pct": "5"}]},
         "recommendations[0].'change_pct' must be a number"),
    ],
)  # fmt: skip
def test_an_answer_outside_the_task_shape_is_refused_with_a_reason_that_quotes_no_value(
    task: str, answer: Any, reason: str
) -> None:
    with pytest.raises(tasks.ShapeError) as refused:
        tasks.check(task, answer)
    assert str(refused.value).startswith(reason)
    assert "weather" not in str(refused.value)


def test_a_checked_answer_keeps_only_the_shape_keys() -> None:
    answer = {"summary": "s", "findings": [{"signal": "paid", "severity": 1, "raw": "x"}], "debug": "prompt echo"}
    assert tasks.check("investigation", answer) == {"summary": "s", "findings": [{"signal": "paid", "severity": 1}]}


def test_other_inputs_follow_the_prompt_as_json_context_and_the_model_does_not() -> None:
    assert tasks.user_message({"prompt": "Rebalance", "model": "m", "budget_minor": 100}) == (
        'Rebalance\n\nContext (JSON): {"budget_minor":100}'
    )
    assert tasks.user_message({"prompt": "Plain", "model": "m"}) == "Plain"


def test_an_unreachable_provider_is_an_error_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SKELDIR_LLM_OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("SKELDIR_LLM_OPENAI_API_KEY", "sk-unit")
    monkeypatch.delenv("SKELDIR_LLM_OPENAI_API_KEY_FILE", raising=False)
    result = outcome("openai")
    assert (result.kind, result.error) == ("error", "provider unreachable (connection failed)")


def test_a_missing_key_and_an_unknown_provider_are_error_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKELDIR_LLM_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SKELDIR_LLM_OPENAI_API_KEY_FILE", raising=False)
    missing = outcome("openai")
    assert missing.kind == "error" and missing.error is not None
    assert missing.error.startswith("no API key: set SKELDIR_LLM_OPENAI_API_KEY")
    assert outcome("nonesuch").error == "no provider implementation for 'nonesuch'"


def test_a_worker_loading_the_llm_consumer_does_not_import_the_sdk_until_a_real_provider_is_called() -> None:
    probe = (
        "import asyncio, sys\n"
        "from skeldir.worker.llm import consumer, provider\n"
        "before = 'openai' in sys.modules\n"
        "asyncio.run(provider.call('stub', 'route', 'stub-small', {'prompt': 'p'}, 1000))\n"
        "stub = 'openai' in sys.modules\n"
        "asyncio.run(provider.call('openai', 'route', 'm', {'prompt': 'p'}, 1000))\n"
        "print(before, stub, 'openai' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKELDIR_LLM_")}
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["False", "False", "True"], run.stderr
