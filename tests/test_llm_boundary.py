"""Static proof of the provider boundary: only skeldir/worker/llm/provider.py may import provider code."""

from __future__ import annotations

import ast
from pathlib import Path

SHELL = Path(__file__).resolve().parents[1] / "shell"
BOUNDARY = SHELL / "skeldir" / "worker" / "llm" / "provider.py"

# Provider SDKs and the network clients a provider integration would use.
PROVIDER_MODULES = {
    "openai", "anthropic", "cohere", "mistralai", "groq", "together", "google.generativeai", "google.genai",
    "vertexai", "boto3", "botocore", "litellm", "langchain", "llama_index", "transformers",
    "httpx", "httpx2", "requests", "aiohttp", "urllib3", "urllib.request", "http.client",
}  # fmt: skip


# Modules that may use a generic HTTP client for something other than a provider, and why.
HTTP_CLIENT_ALLOWED = {
    "skeldir/tools/prove/context.py": {"httpx"},  # `skeldir prove` drives Skeldir's own shell over HTTP
    "skeldir/tools/loadtest.py": {"urllib"},  # `skeldir loadtest` reads the shell's own /metrics
    "skeldir/ops/supervisor.py": {"urllib"},  # `skeldir up` waits for its own shell's and worker's /health
}


def imported_modules(path: Path, package: str | None = None) -> set[str]:
    """Every module a file imports, fully qualified (relative imports resolved within skeldir)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    if package is None:
        package = ".".join(path.relative_to(SHELL).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def is_provider_code(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in PROVIDER_MODULES)


def test_only_the_boundary_module_imports_provider_sdks_or_network_clients() -> None:
    offenders = {
        name: sorted(
            m
            for m in imported_modules(path)
            if is_provider_code(m) and m.split(".")[0] not in HTTP_CLIENT_ALLOWED.get(name, set())
        )
        for path in SHELL.rglob("*.py")
        if path != BOUNDARY and (name := str(path.relative_to(SHELL)))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_llm_consumer_imports_the_boundary() -> None:
    importers = sorted(
        str(path.relative_to(SHELL))
        for path in SHELL.rglob("*.py")
        if path != BOUNDARY and any(m.startswith("skeldir.worker.llm.provider") for m in imported_modules(path))
    )
    assert importers == ["skeldir/worker/llm/consumer.py"]


def test_the_scan_would_catch_an_offender(tmp_path: Path) -> None:
    """The negative control: a module importing a provider SDK is reported."""
    fake = tmp_path / "probe.py"
    fake.write_text("import openai\nfrom httpx import AsyncClient\nfrom . import provider\n")
    found = imported_modules(fake, package="skeldir.worker.llm")
    assert {"openai", "httpx", "skeldir.worker.llm.provider"} <= found
    assert sorted(m for m in found if is_provider_code(m)) == ["httpx", "httpx.AsyncClient", "openai"]
