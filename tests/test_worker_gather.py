"""The poller's read loop: when it reads again at once, and when it lets the next batch fill."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from skeldir.worker.poller import Worker


def drive(worker: Worker, batches: list[int]) -> list[tuple[str, float]]:
    """Runs drain('attribution') over scripted batch sizes, then one empty read that stops it;
    returns the waits it chose, in order (so the last is always the idle wait of that read)."""
    waits: list[tuple[str, float]] = []
    sizes = iter(batches)

    async def run_batch(queue: str) -> int:
        try:
            return next(sizes)
        except StopIteration:
            worker.stopping.set()
            return 0

    async def sleep(seconds: float) -> None:
        waits.append(("gather", seconds))

    async def wait(event: asyncio.Event, timeout: float) -> None:
        waits.append(("idle", timeout))

    worker.run_batch = run_batch  # type: ignore[method-assign]
    worker._sleep = sleep  # type: ignore[method-assign]
    worker._wait = wait  # type: ignore[method-assign]
    asyncio.run(worker.drain("attribution"))
    return waits


@pytest.fixture
def worker() -> Worker:
    return Worker("postgresql://unused", ["attribution"], batch=100, concurrency=1, gather=0.2)


def test_a_full_batch_is_followed_by_the_next_read_at_once(worker: Worker) -> None:
    assert drive(worker, [100, 100, 100]) == [("idle", 1.0)]


def test_a_batch_that_was_not_full_waits_gather_so_the_next_one_fills(worker: Worker) -> None:
    assert drive(worker, [100, 7, 100]) == [("gather", 0.2), ("idle", 1.0)]


def test_an_empty_read_waits_for_a_notification_not_gather(worker: Worker) -> None:
    assert drive(worker, [0, 3]) == [("idle", 1.0), ("gather", 0.2), ("idle", 1.0)]


def test_gather_zero_reads_again_at_once(worker: Worker) -> None:
    worker.gather = 0.0
    assert drive(worker, [7, 7]) == [("idle", 1.0)]


@pytest.mark.parametrize("flags", [["--gather", "-1"], ["--batch", "0"], ["--batch", "1001"]])
def test_out_of_range_worker_flags_exit_2_with_one_line_before_connecting(flags: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skeldir.cli", "worker", "--metrics-port", "0", *flags],
        env={**os.environ, "SKELDIR_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--batch must be 1..1000 and --gather >= 0" in result.stderr
