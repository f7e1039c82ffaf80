"""Configuration: environment variables with the one prefix ``SKELDIR_``.

Every variable is documented here and in ``skeldir --help``. Nothing falls back to a
privileged DSN: a runtime command without ``SKELDIR_DATABASE_URL`` uses the embedded
cluster's app_user DSN, or fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Seconds in-flight work keeps after SIGTERM: the shell's requests (skeldir.web.watchdog) and the
# worker's batches; both processes exit within 10 s.
SHUTDOWN_GRACE = 6.0

ENV_DOC = {
    "SKELDIR_HOME": "embedded cluster folder (default: <project>/.skeldir)",
    "SKELDIR_PG_PORT": "embedded cluster TCP port (default: 54329)",
    "SKELDIR_PG_BIN": "PostgreSQL server binaries (default: /usr/lib/postgresql/15/bin)",
    "SKELDIR_DATABASE_URL": "runtime DSN for shell and worker (app_user)",
    "SKELDIR_MIGRATION_DATABASE_URL": "DSN for sqitch and operator commands (migration_owner)",
    "SKELDIR_ADMIN_DATABASE_URL": "superuser DSN: printed for the embedded cluster; read only by skeldir db bootstrap",
    "SKELDIR_PUBLIC_URL": "base URL in endpoint URLs (default: a running 'skeldir up's host and port, else http://127.0.0.1:8000)",
    "SKELDIR_MAX_BODY_BYTES": "webhook body limit in bytes (default: 1048576)",
    "SKELDIR_POOL_SIZE": "shell connection pool size (default: 8)",
    "SKELDIR_BODY_TIMEOUT": "seconds a client may take to send a webhook body; then 408 (default: 30)",
    "SKELDIR_POOL_TIMEOUT": "seconds a request waits for a pooled connection; +3 s: its answer deadline (default: 5)",
    "SKELDIR_LLM_STUB_LATENCY_MS": "stub LLM provider: latency per call in ms (default: 5)",
    "SKELDIR_LLM_STUB_INPUT_TOKENS": "stub LLM provider: input tokens per call (default: prompt chars / 4)",
    "SKELDIR_LLM_STUB_OUTPUT_TOKENS": "stub LLM provider: output tokens per call (default: 64)",
    "SKELDIR_LLM_STUB_FAIL": "stub LLM provider: 1 makes every call fail (default: 0)",
    "SKELDIR_LLM_STUB_CONFIG": "stub LLM provider: JSON file re-read per call overriding the four above",
    "SKELDIR_LLM_STUB_CALLS_FILE": "stub LLM provider: append one JSON line per call (never the prompt)",
    "SKELDIR_LLM_OPENAI_BASE_URL": "openai LLM provider (worker): chat-completions base URL (default: OpenAI's)",
    "SKELDIR_LLM_OPENAI_API_KEY": "openai LLM provider (worker): API key (or the next variable; never logged)",
    "SKELDIR_LLM_OPENAI_API_KEY_FILE": "openai LLM provider (worker): file holding the API key, re-read per call",
    "SKELDIR_PREPARED_STATEMENTS": "off behind PgBouncer < 1.21 in transaction mode (default: on)",
    "SKELDIR_GROUP_COMMIT_MAX": "most webhook deliveries sharing one transaction (default: 32; 1: no batching)",
    "SKELDIR_GROUP_COMMIT_FLUSHERS": "concurrent ingest transactions of the shell (default: pool size / 2)",
    "SKELDIR_PROVE_FAULT": "test only: 'identity' grants BYPASSRLS in prove's own cluster to prove the gate fails",
}


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    home: Path
    port: int
    pg_bin: Path
    public_url: str
    max_body_bytes: int
    pool_size: int
    pool_timeout: float = 5.0
    body_timeout: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            home=Path(env("SKELDIR_HOME", str(PROJECT_DIR / ".skeldir"))).resolve(),
            port=int(env("SKELDIR_PG_PORT", "54329")),
            pg_bin=Path(env("SKELDIR_PG_BIN", "/usr/lib/postgresql/15/bin")),
            public_url=env("SKELDIR_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            max_body_bytes=int(env("SKELDIR_MAX_BODY_BYTES", str(1024 * 1024))),
            pool_size=int(env("SKELDIR_POOL_SIZE", "8")),
            pool_timeout=float(env("SKELDIR_POOL_TIMEOUT", "5")),
            body_timeout=float(env("SKELDIR_BODY_TIMEOUT", "30")),
        )
