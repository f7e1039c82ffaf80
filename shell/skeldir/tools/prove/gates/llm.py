"""Gate e2e_llm: an LLM request through admission, the provider and the audit; cache and kill switch."""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import Any

from skeldir.tools.prove.context import (
    Context,
    GateFailed,
    NotAvailable,
    httpx_module,
    plan_changes,
    wait_until,
    write_json,
)


def gate_e2e_llm(ctx: Context) -> dict[str, Any]:
    """LLM request over HTTP -> SQL admission -> provider (stub) -> one audited call; the same
    prompt again is cached without a provider call; with the kill switch on it is blocked
    (provider_kill_switch, provider not attempted). The prompt never reaches a log."""
    if "function_llm_request" not in plan_changes():
        raise NotAvailable("this build has no LLM boundary (issue 5: no sqitch change function_llm_request)")
    httpx = httpx_module()
    tenant = ctx.tenant("Prove llm")
    prompt = f"Explain revenue for prove run {secrets.token_hex(6)}"
    ctx.sensitive.add(prompt)
    headers = {"X-Skeldir-Tenant-Key": tenant["api_key"], "X-Skeldir-User-Id": "prove-operator"}
    calls: dict[str, dict[str, Any]] = {}

    def ask(request_id: str) -> dict[str, Any]:
        body = {"request_id": request_id, "inputs": {"prompt": prompt}}
        accepted = httpx.post(f"{ctx.shell_url}/api/llm/explanation", json=body, headers=headers, timeout=15)
        if accepted.status_code != 202:
            raise GateFailed(f"LLM request {request_id} answered {accepted.status_code}: {accepted.text[:200]}")
        url = f"{ctx.shell_url}/api/llm/calls/{request_id}"

        def done() -> dict[str, Any] | None:
            call = httpx.get(url, headers={"X-Skeldir-Tenant-Key": tenant["api_key"]}, timeout=15).json()
            return call if call.get("status") != "pending" else None

        call = wait_until(done, 60, f"LLM call {request_id} stayed pending")
        assert isinstance(call, dict)
        calls[request_id] = call
        write_json(ctx.evidence("e2e_llm", "calls.json"), calls)
        return call

    def switch(state: str) -> None:
        env = {**ctx.process_env("skeldir-prove-cli"), "SKELDIR_MIGRATION_DATABASE_URL": ctx.migration_dsn}
        run = subprocess.run([sys.executable, "-m", "skeldir.cli", "llm", "kill-switch", state],
                             env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        if run.returncode != 0:
            raise GateFailed(f"skeldir llm kill-switch {state} failed: {run.stderr.strip()}")

    first = ask("prove-llm-1")
    cached = ask("prove-llm-2")
    switch("on")
    try:
        blocked = ask("prove-llm-3")
    finally:
        switch("off")
    checks = {
        "success through the provider": (first.get("status"), first.get("provider_attempted")) == ("success", True),
        "same prompt cached, no provider call": (cached.get("status"), cached.get("provider_attempted"))
        == ("cached", False),
        "kill switch blocks before the provider": (
            blocked.get("status"),
            blocked.get("blocked_reason"),
            blocked.get("provider_attempted"),
        )
        == ("blocked", "provider_kill_switch", False),
    }
    figures = {"latency_ms": first.get("latency_ms"), "cost_usd": first.get("cost_usd"), "checks": checks}
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise GateFailed(f"LLM boundary broke: {', '.join(failed)}", figures)
    return figures
