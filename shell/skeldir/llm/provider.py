"""The provider boundary: the ONLY module that talks to an LLM provider.

Everything else reaches a provider through :func:`call`, which enforces the hard timeout
and turns whatever happens into an :class:`Outcome` (success, error or timeout) for SQL to
record. The default and only built-in provider is a deterministic stub (no network) whose
latency, token counts and failures are configurable, so the boundary's controls can be
proved end to end:

- ``SKELDIR_LLM_STUB_LATENCY_MS`` (default 5), ``SKELDIR_LLM_STUB_INPUT_TOKENS`` (default:
  prompt characters / 4, rounded up), ``SKELDIR_LLM_STUB_OUTPUT_TOKENS`` (default 64),
  ``SKELDIR_LLM_STUB_FAIL`` (``1``: every call raises);
- ``SKELDIR_LLM_STUB_CONFIG``: a JSON file re-read on every call whose keys ``latency_ms``,
  ``input_tokens``, ``output_tokens``, ``fail`` override the variables above, so a running
  worker can be steered;
- ``SKELDIR_LLM_STUB_CALLS_FILE``: the stub appends one JSON line per call (task, model,
  prompt length; never the prompt), so tests can count real provider calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

OutcomeKind = Literal["success", "error", "timeout"]

ROUTES = ("attribution", "reconciliation", "revenue", "ingestion")
CHANNELS = ("paid", "organic", "referral", "direct", "email")


@dataclass(frozen=True)
class Completion:
    result: dict[str, Any]
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    latency_ms: float
    result: dict[str, Any] | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None


class ProviderError(Exception):
    """A provider refused or failed the call; the message is recorded (never the prompt)."""


class Provider(Protocol):
    name: str

    async def complete(self, task: str, model: str, inputs: dict[str, Any]) -> Completion: ...


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class StubProvider:
    """Deterministic answers derived from a hash of the prompt; no network, no prompt echo."""

    name = "stub"

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "latency_ms": _env_int("SKELDIR_LLM_STUB_LATENCY_MS", 5),
            "input_tokens": _env_int("SKELDIR_LLM_STUB_INPUT_TOKENS", None),
            "output_tokens": _env_int("SKELDIR_LLM_STUB_OUTPUT_TOKENS", 64),
            "fail": os.environ.get("SKELDIR_LLM_STUB_FAIL", "0") == "1",
        }
        path = os.environ.get("SKELDIR_LLM_STUB_CONFIG")
        if path and Path(path).is_file():
            settings.update(json.loads(Path(path).read_text() or "{}"))
        return settings

    def _log_call(self, task: str, model: str, prompt: str, fail: bool) -> None:
        path = os.environ.get("SKELDIR_LLM_STUB_CALLS_FILE")
        if path:
            line = json.dumps({"task": task, "model": model, "prompt_chars": len(prompt), "fail": fail})
            with open(path, "a") as f:
                f.write(line + "\n")

    async def complete(self, task: str, model: str, inputs: dict[str, Any]) -> Completion:
        settings = self._settings()
        prompt = str(inputs.get("prompt", ""))
        self._log_call(task, model, prompt, bool(settings["fail"]))
        await asyncio.sleep(max(0, int(settings["latency_ms"])) / 1000.0)
        if settings["fail"]:
            raise ProviderError("stub provider configured to fail")
        digest = hashlib.sha256(f"{task}\n{model}\n{prompt}".encode()).digest()
        input_tokens = settings["input_tokens"]
        if input_tokens is None:
            input_tokens = math.ceil(len(prompt) / 4)
        return Completion(_stub_answer(task, digest), int(input_tokens), int(settings["output_tokens"]))


def _stub_answer(task: str, digest: bytes) -> dict[str, Any]:
    ref = digest.hex()[:12]
    if task == "route":
        return {"route": ROUTES[digest[0] % len(ROUTES)], "confidence": round(0.5 + digest[1] % 50 / 100, 2)}
    if task == "investigation":
        return {
            "summary": f"stub investigation {ref}",
            "findings": [
                {"signal": CHANNELS[digest[i] % len(CHANNELS)], "severity": digest[i + 1] % 3} for i in (2, 4)
            ],
        }
    if task == "budget_optimization":
        return {
            "summary": f"stub budget plan {ref}",
            "recommendations": [
                {"channel": CHANNELS[digest[i] % len(CHANNELS)], "change_pct": digest[i + 1] % 41 - 20} for i in (2, 4)
            ],
        }
    return {"explanation": f"stub explanation {ref}"}


PROVIDERS: dict[str, Provider] = {"stub": StubProvider()}


async def call(provider: str, task: str, model: str, inputs: dict[str, Any], timeout_ms: int) -> Outcome:
    """One provider call under a hard timeout; never raises for provider trouble."""
    impl = PROVIDERS.get(provider)
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000.0

    if impl is None:
        return Outcome("error", 0.0, error=f"no provider implementation for {provider!r}")
    try:
        done = await asyncio.wait_for(impl.complete(task, model, inputs), timeout_ms / 1000.0)
    except TimeoutError:
        return Outcome("timeout", elapsed(), error=f"no answer within {timeout_ms} ms")
    except ProviderError as exc:
        return Outcome("error", elapsed(), error=str(exc)[:500])
    except Exception as exc:  # a provider bug must still end as an audited error, not a crash
        return Outcome("error", elapsed(), error=f"provider raised {type(exc).__name__}")
    return Outcome("success", elapsed(), done.result, done.input_tokens, done.output_tokens)
