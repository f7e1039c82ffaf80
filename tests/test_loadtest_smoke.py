"""Issue 7: the load harness's accounting, proved on short runs against the real shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from support import Database


def loadtest(main_db: Database, url: str, out: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "SKELDIR_DATABASE_URL": main_db.app, "SKELDIR_MIGRATION_DATABASE_URL": main_db.migration}
    proc = subprocess.run(
        [sys.executable, "-m", "skeldir.cli", "loadtest", "--url", url, "--json", str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(out.read_text()) if out.exists() else {}
    return proc, result


def stored_rows(main_db: Database, tenant_ids: list[str]) -> tuple[int, int]:
    """Counted independently of the harness, as superuser (no RLS, no views)."""
    with psycopg.connect(main_db.admin) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM skeldir.attribution_events WHERE tenant_id = ANY(%s::uuid[])),"
            "       (SELECT count(*) FROM skeldir.dead_letters WHERE tenant_id = ANY(%s::uuid[]))",
            [tenant_ids, tenant_ids],
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def assert_fully_accounted(main_db: Database, result: dict, planned: int) -> None:
    assert result["ok"], result["failures"]
    assert result["sent"] == result["received"] == planned
    assert result["errors"] == 0 and result["timeouts"] == 0
    assert set(result["outcomes"]) == {"accepted", "duplicate", "dead_lettered"}
    assert result["statuses"] == {"200": planned}
    events, dead = stored_rows(main_db, result["tenant_ids"])
    assert (events, dead) == (result["outcomes"]["accepted"], result["outcomes"]["dead_lettered"])
    assert result["latency_ms"]["p99"] >= result["latency_ms"]["p50"] > 0


def test_fixed_rate_run_matches_every_response_to_a_stored_row(shell: str, main_db: Database, tmp_path: Path) -> None:
    vendors = "stripe,shopify,woocommerce,standard"
    proc, result = loadtest(
        main_db,
        shell,
        tmp_path / "rate.json",
        "--rate",
        "40",
        "--duration",
        "3",
        "--tenants",
        "2",
        "--vendors",
        vendors,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accounting OK" in proc.stdout
    assert_fully_accounted(main_db, result, 120)
    assert result["shell_rss_peak_mb"] > 0
    assert result["vendors"] == vendors.split(",")


def test_flat_out_wrk_run_sends_each_presigned_request_exactly_once(
    shell: str, main_db: Database, tmp_path: Path
) -> None:
    proc, result = loadtest(main_db, shell, tmp_path / "max.json", "--max", "--requests", "400", "--connections", "8")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_fully_accounted(main_db, result, 400)
    assert result["generator"]["tool"] == "wrk"
    # Where the time goes: the shell process, and its own database backends by application_name.
    assert result["cpu_ms_per_request"]["shell process"] > 0
    assert result["cpu_ms_per_request"]["db skeldir-shell"] > 0
    # Group commit as the shell's /metrics counted it: every delivery went through an ingest call.
    assert result["group_commit"]["calls"] > 0
    assert 1 <= result["group_commit"]["mean_batch"] <= 8


class BypassingShell(BaseHTTPRequestHandler):
    """Answers like the shell but stores nothing; the first answer is a 500."""

    answered = 0

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).answered += 1
        status, body = (500, b'{"status": "error"}') if self.answered == 1 else (200, b'{"status": "accepted"}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bypassing_shell() -> Iterator[str]:
    BypassingShell.protocol_version = "HTTP/1.1"
    server = ThreadingHTTPServer(("127.0.0.1", 0), BypassingShell)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_shell_that_answers_without_storing_fails_the_accounting(
    bypassing_shell: str, main_db: Database, tmp_path: Path
) -> None:
    proc, result = loadtest(
        main_db, bypassing_shell, tmp_path / "bypass.json", "--rate", "50", "--duration", "1", "--tenants", "1"
    )
    assert proc.returncode == 1
    assert "ACCOUNTING FAILED" in proc.stdout
    assert result["sent"] == result["received"] == 50
    assert result["db_delta"] == {"events": 0, "dead_letters": 0}
    assert any(f.startswith("accepted 49 != new events 0") for f in result["failures"]), result["failures"]
    assert "1 responses with status 5xx" in result["failures"]
