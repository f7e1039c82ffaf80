"""The provider boundary: the ONLY module that talks to an LLM provider.

Everything else reaches a provider through :func:`call`, which enforces the hard timeout,
holds every answer to its task's shape (:mod:`skeldir.worker.llm.tasks`) and turns whatever
happens into an :class:`Outcome` (success, error or timeout) for SQL to record. Which
implementation serves a call is the provider of its model in ``skeldir.llm_model_prices``
(``skeldir llm model set``); the registry is :data:`PROVIDERS`.

``stub`` (the default; no network): deterministic answers whose latency, token counts and
failures are configurable, so the boundary's controls can be proved end to end:

- ``SKELDIR_LLM_STUB_LATENCY_MS`` (default 5), ``SKELDIR_LLM_STUB_INPUT_TOKENS`` (default:
  prompt characters / 4, rounded up), ``SKELDIR_LLM_STUB_OUTPUT_TOKENS`` (default 64),
  ``SKELDIR_LLM_STUB_FAIL`` (``1``: every call raises);
- ``SKELDIR_LLM_STUB_CONFIG``: a JSON file re-read on every call whose keys ``latency_ms``,
  ``input_tokens``, ``output_tokens``, ``fail`` override the variables above, so a running
  worker can be steered;
- ``SKELDIR_LLM_STUB_CALLS_FILE``: the stub appends one JSON line per call (task, model,
  prompt length; never the prompt), so tests can count real provider calls.

``openai``: any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, Anthropic's
compatible endpoint, Ollama, vLLM, LiteLLM) through the official SDK, configured from the
worker's environment only, re-read on every call (a rotated key file is picked up):

- ``SKELDIR_LLM_OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``);
- ``SKELDIR_LLM_OPENAI_API_KEY`` or ``SKELDIR_LLM_OPENAI_API_KEY_FILE`` (one of them).

One ``POST {base}/chat/completions`` per call: a system message per task, the prompt as
the user message, ``response_format`` JSON object, no streaming, no client retries
(redelivery and the breaker own retrying), the SDK timeout equal to the hard timeout.
429 and 5xx answers, refusals and unreachable hosts are errors (the breaker counts them),
no answer in time is a timeout, an answer that is not JSON or not the task's shape is an
error with the reason and the tokens the provider billed. Error texts are built here from
status codes and fixed words, never from the provider's body, so neither the API key nor
the prompt can travel into the audit or a log.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from skeldir.worker.llm import tasks
from skeldir.worker.llm.tasks import CHANNELS, ROUTES

if TYPE_CHECKING:
    import openai

OutcomeKind = Literal["success", "error", "timeout"]

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_ANSWER_CHARS = 65536
_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")
# The SDK's HTTP client logs every request URL at INFO; a base URL may carry credentials
# (user:password@host, a key query parameter). Each call is audited in SQL instead.
logging.getLogger("httpx2").setLevel(logging.WARNING)
logging.getLogger("openai").setLevel(logging.WARNING)


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
    """A provider refused or failed the call; the message is recorded (never the prompt or a key).

    ``input_tokens`` / ``output_tokens``: what the provider billed for an answer that was
    then rejected (not JSON, not the task's shape), so the audit prices it.
    """

    def __init__(self, message: str, input_tokens: int = 0, output_tokens: int = 0) -> None:
        super().__init__(message)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


class ProviderTimeout(Exception):
    """The provider's client gave up at the timeout (the hard timeout in :func:`call` is the backstop)."""


class Provider(Protocol):
    name: str

    async def ready(self) -> None:
        """One-time set-up before the first call, outside any call's timeout."""

    async def complete(self, task: str, model: str, inputs: dict[str, Any], timeout_s: float) -> Completion: ...


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class StubProvider:
    """Deterministic answers derived from a hash of the prompt; no network, no prompt echo."""

    name = "stub"

    async def ready(self) -> None:
        pass

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

    async def complete(self, task: str, model: str, inputs: dict[str, Any], timeout_s: float) -> Completion:
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


def _status_error(exc: openai.APIStatusError) -> str:
    """``provider answered HTTP 429 (rate_limit_exceeded)``: the status and, when it is a plain
    identifier, the error code; never the body, which may echo the key or the prompt."""
    code = exc.code if isinstance(exc.code, str) and _CODE.match(exc.code) else None
    return f"provider answered HTTP {exc.status_code}" + (f" ({code})" if code else "")


def _import_sdk() -> Any:
    """The SDK with what a chat completion needs (its client loads resources lazily, on first use)."""
    for module in ("openai", "openai.resources.chat.completions", "openai.types.chat"):
        importlib.import_module(module)
    return importlib.import_module("openai")


class OpenAIProvider:
    """Chat completions on an OpenAI-compatible endpoint, configured by the worker's environment."""

    name = "openai"

    def __init__(self) -> None:
        self._sdk: Any = None
        self._client: openai.AsyncOpenAI | None = None
        self._client_for: tuple[str, str] | None = None

    async def ready(self) -> None:
        # The SDK is imported on first use and a client built per configuration, both in a
        # thread: they take seconds on a loaded machine (imports, TLS trust store), which must
        # neither slow a stub-only worker's start, nor block the event loop, nor count
        # against a call's timeout. A configuration error is left for complete() to report.
        if self._sdk is None:
            self._sdk = await asyncio.to_thread(_import_sdk)
        try:
            base, key = self.connection()
        except ProviderError:
            return
        if self._client is None or self._client_for != (base, key):
            await asyncio.to_thread(self._client_of, base, key)

    @property
    def sdk(self) -> Any:
        if self._sdk is None:
            self._sdk = _import_sdk()
        return self._sdk

    @staticmethod
    def connection() -> tuple[str, str]:
        """(base URL, API key) from the environment; raises :class:`ProviderError` naming what is missing."""
        base = os.environ.get("SKELDIR_LLM_OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        key = os.environ.get("SKELDIR_LLM_OPENAI_API_KEY") or ""
        key_file = os.environ.get("SKELDIR_LLM_OPENAI_API_KEY_FILE") or ""
        if key and key_file:
            raise ProviderError("set SKELDIR_LLM_OPENAI_API_KEY or SKELDIR_LLM_OPENAI_API_KEY_FILE, not both")
        if key_file:
            try:
                key = Path(key_file).read_text().strip()
            except OSError as exc:
                raise ProviderError(f"SKELDIR_LLM_OPENAI_API_KEY_FILE cannot be read ({exc.strerror})") from None
        if not key:
            raise ProviderError(
                "no API key: set SKELDIR_LLM_OPENAI_API_KEY or SKELDIR_LLM_OPENAI_API_KEY_FILE for the worker"
            )
        return base, key

    def _client_of(self, base: str, key: str) -> openai.AsyncOpenAI:
        # One client (one connection pool) per configuration; a changed key or URL replaces it.
        # The old one is not closed here: calls still in flight on it finish undisturbed.
        if self._client is None or self._client_for != (base, key):
            client = self.sdk.AsyncOpenAI(api_key=key, base_url=base, max_retries=0)
            client.chat.completions  # noqa: B018 -- the resource loads its modules on first access
            self._client, self._client_for = client, (base, key)
        return self._client

    async def complete(self, task: str, model: str, inputs: dict[str, Any], timeout_s: float) -> Completion:
        client = self._client_of(*self.connection())
        sdk = self.sdk
        try:
            answer = await client.chat.completions.create(
                model=model,
                messages=[
                    {"role": "system", "content": tasks.SYSTEM_PROMPTS[task]},
                    {"role": "user", "content": tasks.user_message(inputs)},
                ],
                response_format={"type": "json_object"},
                stream=False,
                timeout=timeout_s,
            )
        except sdk.APITimeoutError:
            raise ProviderTimeout() from None
        except sdk.APIStatusError as exc:  # 429, 5xx, 4xx: the breaker counts it
            raise ProviderError(_status_error(exc)) from None
        except sdk.APIConnectionError:
            raise ProviderError("provider unreachable (connection failed)") from None
        except sdk.APIResponseValidationError:
            raise ProviderError("provider answer is not a chat completion") from None
        try:
            return _completion(answer, sdk.types.chat.ChatCompletion)
        except (AttributeError, TypeError, IndexError, KeyError):
            # The SDK does not validate answers strictly: a 200 that is not a chat completion.
            raise ProviderError("provider answer is not a chat completion") from None


def _completion(answer: Any, chat_completion: type) -> Completion:
    """The answer's JSON document and billed tokens; ProviderError for anything else."""
    if not isinstance(answer, chat_completion):
        raise ProviderError("provider answer is not a chat completion")
    usage = answer.usage
    tin = getattr(usage, "prompt_tokens", None)
    tout = getattr(usage, "completion_tokens", None)
    if not isinstance(tin, int) or not isinstance(tout, int) or tin < 0 or tout < 0:
        # Unpriceable: a success without tokens would let spend bypass every budget.
        raise ProviderError("provider answer carries no usage; its tokens cannot be priced")
    content = answer.choices[0].message.content if answer.choices else None
    if not content:
        reason = answer.choices[0].finish_reason if answer.choices else None
        reason = reason if isinstance(reason, str) and _CODE.match(reason) else "unknown"
        raise ProviderError(f"provider answer has no content (finish_reason {reason})", tin, tout)
    if len(content) > MAX_ANSWER_CHARS:
        raise ProviderError(f"answer longer than {MAX_ANSWER_CHARS} characters", tin, tout)
    try:
        doc = json.loads(content)
    except ValueError:
        raise ProviderError("answer is not JSON", tin, tout) from None
    return Completion(doc, tin, tout)


PROVIDERS: dict[str, Provider] = {"stub": StubProvider(), "openai": OpenAIProvider()}


async def call(provider: str, task: str, model: str, inputs: dict[str, Any], timeout_ms: int) -> Outcome:
    """One provider call under a hard timeout, its answer held to the task's shape; never raises."""
    impl = PROVIDERS.get(provider)
    if impl is None:
        return Outcome("error", 0.0, error=f"no provider implementation for {provider!r}")
    try:
        await impl.ready()
    except Exception as exc:
        return Outcome("error", 0.0, error=f"provider {provider!r} could not be set up ({type(exc).__name__})")
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000.0

    timeout_s = timeout_ms / 1000.0
    try:
        done = await asyncio.wait_for(impl.complete(task, model, inputs, timeout_s), timeout_s)
    except (TimeoutError, ProviderTimeout):
        return Outcome("timeout", elapsed(), error=f"no answer within {timeout_ms} ms")
    except ProviderError as exc:
        return Outcome("error", elapsed(), None, exc.input_tokens, exc.output_tokens, str(exc)[:500])
    except Exception as exc:  # a provider bug must still end as an audited error, not a crash
        return Outcome("error", elapsed(), error=f"provider raised {type(exc).__name__}")
    try:
        result = tasks.check(task, done.result)
    except tasks.ShapeError as exc:
        return Outcome(
            "error",
            elapsed(),
            None,
            done.input_tokens,
            done.output_tokens,
            f"answer does not match the {task} shape: {exc}"[:500],
        )
    return Outcome("success", elapsed(), result, done.input_tokens, done.output_tokens)
