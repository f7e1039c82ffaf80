"""Issue 18: SIGTERM stops the worker within 10 s even when a batch is stuck behind a lock."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psycopg
from pipeline_support import enqueue_allocations, scalar, seed_events, start_worker

from support import Database, wait_for


def test_sigterm_cancels_a_batch_stuck_behind_a_long_transaction_and_exits_within_10_seconds(
    clone: Database, tmp_path: Path
) -> None:
    with psycopg.connect(clone.migration) as conn:
        tenant = str(conn.execute("SELECT tenant_id FROM api.tenant_create('Stuck')").fetchone()[0])  # type: ignore[index]
    seed_events(clone.migration, tenant, 50)
    with psycopg.connect(clone.admin) as holder:
        holder.execute("LOCK TABLE skeldir.allocations IN SHARE MODE")  # every allocation insert waits
        enqueue_allocations(clone.migration, tenant)
        log = tmp_path / "w.log"
        w = start_worker(clone.app, log, "--queues", "attribution", "--batch", "10")
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        wait_for(lambda: scalar(clone.admin, waiting), timeout=30)  # a batch waits on the lock
        w.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = w.proc.wait(timeout=30)
        took = time.monotonic() - started
        holder.rollback()
    assert took < 10.0, f"the worker took {took:.1f} s to exit"
    assert code == 0
    assert scalar(clone.admin, "SELECT count(*) FROM skeldir.allocations") == 0, "the stuck batch rolled back"
    assert "cancelled" in log.read_text()
