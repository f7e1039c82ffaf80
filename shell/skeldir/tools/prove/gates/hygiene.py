"""Gate hygiene: no secret, key, signature, password or PII of the run appears in any log."""

from __future__ import annotations

import hashlib
import re
import shutil
from typing import Any

from skeldir.tools.prove.context import Context, GateFailed, write_json

SECRET_PATTERNS = {
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"),
    "tenant API key": re.compile(r"skd_[0-9a-f]{16,}"),
    "Stripe signature": re.compile(r"v1=[0-9a-f]{64}"),
    "password in DSN": re.compile(r"://[^/\s:@]+:[^@\s]+@"),
}


def gate_hygiene(ctx: Context) -> dict[str, Any]:
    """No secret, API key, signature, password or PII sent during the run appears in any log."""
    shutil.copyfile(ctx.cluster.log_file, ctx.pack / "logs" / "postgres.log")
    logs = sorted(p for p in (ctx.pack / "logs").rglob("*") if p.is_file())
    passwords = set(ctx.cluster.passwords().values())
    findings: list[dict[str, Any]] = []
    scanned = 0
    for path in logs:
        text = path.read_text(errors="replace")
        scanned += len(text)
        for value in ctx.sensitive | passwords:
            if value and value in text:
                findings.append({"file": path.name, "kind": "value sent during the run", "sha256": _sha(value)})
        for kind, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                findings.append({"file": path.name, "kind": kind, "sha256": _sha(match.group(0))})
    # Findings carry hashes, never the values, so the pack itself stays clean.
    write_json(ctx.evidence("hygiene", "findings.json"), findings)
    figures = {
        "files": [p.name for p in logs],
        "bytes_scanned": scanned,
        "sensitive_values": len(ctx.sensitive | passwords),
        "findings": len(findings),
    }
    if findings:
        raise GateFailed(f"{len(findings)} secret or PII occurrences in logs (see findings.json)", figures)
    return figures


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
