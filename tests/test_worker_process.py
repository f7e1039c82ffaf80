"""The poller as real processes: poison pill, SIGKILL mid-batch, SIGTERM drain, two workers."""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
from pipeline_support import enqueue_allocations, scalar, seed_events, start_worker, tasks_counted

from support import Database, WorkerProcess, as_tenant, stop_process, wait_for

EXACTLY_ONCE = """
    SELECT (SELECT count(*) FROM pgmq.a_attribution),
           (SELECT count(DISTINCT msg_id) FROM pgmq.a_attribution),
           (SELECT count(*) FROM pgmq.q_attribution),
           (SELECT count(*) FROM skeldir.worker_failed_jobs)
"""


def allocated_exactly(dsn: str, tenant_id: str) -> tuple[int, int]:
    """(events whose allocations sum exactly to their amount, events in all)."""
    rows = as_tenant(
        dsn,
        tenant_id,
        """SELECT count(*) FILTER (WHERE a.total = e.amount_minor), count(*)
             FROM api.events AS e
             LEFT JOIN (SELECT event_id, sum(amount_minor) AS total FROM api.allocations GROUP BY 1) AS a
                  USING (event_id)""",
    )
    return rows[0]


def new_tenant_in(db: Database, name: str) -> str:
    return str(scalar(db.migration, "SELECT tenant_id FROM api.tenant_create(%s)", [name]))


def test_poison_pill_lands_in_failed_jobs_after_three_retries_visible_only_to_its_tenant(
    main_db: Database, worker: WorkerProcess
) -> None:
    owner = str(scalar(main_db.migration, "SELECT tenant_id FROM api.tenant_create('Pill Owner')"))
    other = str(scalar(main_db.migration, "SELECT tenant_id FROM api.tenant_create('Pill Other')"))
    with psycopg.connect(main_db.migration) as conn:
        conn.execute(
            "SELECT pgmq.send('attribution', jsonb_build_object('task', 'poison_pill', 'tenant_id', %s::text))",
            [owner],
        )
    query = "SELECT task_name, queue, retry_count, status, error_message FROM api.failed_jobs"
    rows = wait_for(lambda: as_tenant(main_db.app, owner, query), timeout=30)
    assert rows == [("poison_pill", "attribution", 3, "failed", "poison pill: this task always fails")]
    assert as_tenant(main_db.app, other, query) == []
    assert tasks_counted(worker.metrics_url, "poison_pill", "retried") >= 3
    assert tasks_counted(worker.metrics_url, "poison_pill", "failed") >= 1


def test_sigkill_mid_batch_then_restart_applies_every_message_exactly_once(clone: Database, tmp_path: Path) -> None:
    with psycopg.connect(clone.migration, autocommit=True) as conn:
        conn.execute("UPDATE skeldir.settings SET task_visibility_timeout = 2")
    tenant = new_tenant_in(clone, "Kill Nine")
    seed_events(clone.migration, tenant, 3000)
    sent = enqueue_allocations(clone.migration, tenant)

    args = ("--queues", "attribution", "--batch", "20", "--concurrency", "2")
    first = start_worker(clone.app, tmp_path / "w1.log", *args)
    wait_for(lambda: scalar(clone.admin, "SELECT count(*) FROM pgmq.a_attribution") >= 300, timeout=60, interval=0.02)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    # A crashed host takes the worker's sessions with it: abort whatever batch was running.
    scalar(
        clone.admin,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND usename = 'app_user'",
        [clone.name],
    )
    done_at_kill = scalar(clone.admin, "SELECT count(*) FROM pgmq.a_attribution")
    assert done_at_kill < sent, "the kill must land before the queue is drained"

    second = start_worker(clone.app, tmp_path / "w2.log", "--queues", "attribution", "--batch", "50")
    try:
        wait_for(lambda: scalar(clone.admin, "SELECT count(*) FROM pgmq.q_attribution") == 0, timeout=120)
    finally:
        stop_process(second.proc)
    archived, distinct, left, failed = psycopg.connect(clone.admin).execute(EXACTLY_ONCE).fetchone()
    assert (archived, distinct, left, failed) == (sent, sent, 0, 0)
    assert allocated_exactly(clone.app, tenant) == (sent, sent)


def test_sigterm_finishes_in_flight_batches_and_exits_zero(clone: Database, tmp_path: Path) -> None:
    tenant = new_tenant_in(clone, "Term")
    seed_events(clone.migration, tenant, 4000)
    sent = enqueue_allocations(clone.migration, tenant)
    w = start_worker(clone.app, tmp_path / "w.log", "--queues", "attribution", "--batch", "50", "--concurrency", "2")
    wait_for(lambda: scalar(clone.admin, "SELECT count(*) FROM pgmq.a_attribution") >= 200, timeout=60, interval=0.02)
    with psycopg.connect(clone.admin) as conn:
        beats = conn.execute(
            "SELECT pid, host <> '', queues, started_at <= last_seen_at FROM skeldir.worker_heartbeats"
        )
        assert beats.fetchall() == [(w.proc.pid, True, ["attribution"], True)]
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(timeout=30) == 0
    in_flight = scalar(clone.admin, "SELECT count(*) FROM pgmq.q_attribution WHERE read_ct > 0")
    archived = scalar(clone.admin, "SELECT count(*) FROM pgmq.a_attribution")
    assert in_flight == 0, "every message it had read was finished and archived"
    assert archived < sent, "it stopped reading instead of draining the whole queue"
    assert allocated_exactly(clone.app, tenant)[0] == archived
    assert scalar(clone.admin, "SELECT count(*) FROM skeldir.worker_heartbeats") == 0
    assert "stopping: finishing in-flight batches" in (tmp_path / "w.log").read_text()


def test_two_workers_never_process_one_message_twice(clone: Database, tmp_path: Path) -> None:
    tenant = new_tenant_in(clone, "Two Workers")
    seed_events(clone.migration, tenant, 4000)
    sent = enqueue_allocations(clone.migration, tenant)
    workers = [
        start_worker(clone.app, tmp_path / f"w{i}.log", "--queues", "attribution", "--batch", "25") for i in range(2)
    ]
    try:
        wait_for(lambda: scalar(clone.admin, "SELECT count(*) FROM pgmq.a_attribution") == sent, timeout=120)
        per_worker = [tasks_counted(w.metrics_url, "allocate", "succeeded") for w in workers]
    finally:
        for w in workers:
            stop_process(w.proc)
    assert sum(per_worker) == sent
    assert min(per_worker) > 0, "both workers took part"
    # A message read by two workers would carry read_ct 2 (pgmq.read increments it).
    assert scalar(clone.admin, "SELECT count(*) FROM pgmq.a_attribution WHERE read_ct <> 1") == 0
    assert allocated_exactly(clone.app, tenant) == (sent, sent)
