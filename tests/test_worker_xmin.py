"""The worker's queue read under a long transaction (issue 18, failure 6), with real sessions.

A session idle in a REPEATABLE READ transaction holds the xmin horizon, so nothing the queue
churns through meanwhile can be vacuumed or pruned: every consumed message stays in the
queue table and its indexes as a dead version. A read that scans the queue from its first
msg_id visits all of them; the worker's read starts at the queue's low-water mark instead
(skeldir.queue_scan), which is only ever moved past messages that can no longer appear.
"""

from __future__ import annotations

import time

import psycopg

from support import Database

EMPTY_READ = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM api.task_run_batch('attribution', 500)"


def empty_read_buffers(dsn: str) -> int:
    """Shared buffers one worker call on the empty attribution queue touches, nested statements included."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(EMPTY_READ)  # warms this connection's catalog caches, which count as buffer hits
        row = conn.execute(EMPTY_READ).fetchone()
    assert row is not None
    plan = row[0][0]["Plan"]
    assert plan["Actual Rows"] == 0, "the queue is empty"
    return int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"])


def send_noops(dsn: str, n: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "SELECT count(*) FROM pgmq.send_batch('attribution', array_fill('{\"task\": \"noop\"}'::jsonb, ARRAY[%s]))",
            [n],
        )


def drain(dsn: str) -> list[int]:
    """Runs worker batches until one comes back empty; returns the msg_ids run."""
    taken: list[int] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        while rows := conn.execute("SELECT msg_id FROM api.task_run_batch('attribution', 500)").fetchall():
            taken += [r[0] for r in rows]
    return taken


def settle(dsn: str, seconds: float = 1.5) -> None:
    """Idle worker polls for a while, as an idle worker makes them (each may move the low-water mark)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert drain(dsn) == []
        time.sleep(0.1)


def test_an_empty_queue_read_under_a_held_snapshot_does_not_visit_the_churned_messages(clone: Database) -> None:
    settle(clone.app, 0.5)
    clean = empty_read_buffers(clone.app)
    with psycopg.connect(clone.admin) as holder:
        holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        holder.execute("SELECT count(*) FROM skeldir.tenants")  # takes the snapshot: xmin held from here
        with psycopg.connect(clone.admin) as conn:
            row = conn.execute(
                "SELECT backend_xmin IS NOT NULL, backend_xid IS NULL FROM pg_stat_activity WHERE pid = %s",
                [holder.info.backend_pid],
            ).fetchone()
        assert row == (True, True), "the holder holds a snapshot (xmin) and no xid, idle in its transaction"
        for _ in range(6):
            send_noops(clone.migration, 500)
            assert len(drain(clone.app)) == 500
        settle(clone.app)
        held = empty_read_buffers(clone.app)
        holder.rollback()
    # 3,000 messages consumed under the hold leave at least 3,000 dead heap tuples (about 40
    # pages) and their index entries; a read that visited them would touch far more buffers.
    assert held <= clean + 12, f"empty read touched {held} buffers under the hold, {clean} on a clean queue"


def test_a_message_committed_after_later_ones_were_consumed_is_still_read(clone: Database) -> None:
    settle(clone.app, 0.5)
    with psycopg.connect(clone.migration) as late:
        row = late.execute("SELECT pgmq.send('attribution', '{\"task\": \"noop\"}'::jsonb)").fetchone()
        assert row is not None
        late_id = row[0]  # drawn now, committed only after everything below
        send_noops(clone.migration, 300)
        assert len(drain(clone.app)) == 300
        settle(clone.app)  # the low-water mark may advance as far as it safely can meanwhile
        late.commit()
    assert drain(clone.app) == [late_id]


def test_a_message_rolled_back_by_a_killed_batch_is_read_again(clone: Database) -> None:
    send_noops(clone.migration, 5)
    with psycopg.connect(clone.app) as killed:
        first = [r[0] for r in killed.execute("SELECT msg_id FROM api.task_run_batch('attribution', 500)")]
        assert len(first) == 5
        # Meanwhile newer messages are consumed and the low-water mark may move on.
        send_noops(clone.migration, 50)
        assert len(drain(clone.app)) == 50
        settle(clone.app)
        killed.rollback()  # as if the worker died: its batch never committed
    assert drain(clone.app) == first
