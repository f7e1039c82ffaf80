"""The poller: drains pgmq queues by calling ``api.task_run_batch`` and nothing else.

Each call is one transaction in SQL that runs a batch of handlers, archives successes,
schedules retries and captures exhausted tasks. Python only decides *when* to call: at
once while there is work, on a pgmq insert notification, or after a polling interval.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from skeldir import logs
from skeldir.config import SHUTDOWN_GRACE
from skeldir.db import DatabaseUnreachable, IdentityError, assert_least_privilege, await_least_privilege

log = logging.getLogger("skeldir.worker")

SQL_QUEUES = ("attribution", "maintenance", "housekeeping")
QUEUES = (*SQL_QUEUES, "llm")  # llm: admitted in SQL, provider called by skeldir.worker.llm.consumer
KNOWN_TASKS = {"allocate", "refresh_matviews", "reconcile_due", "housekeeping", "noop", "poison_pill"}
POLL_INTERVAL = 1.0
HEARTBEAT_INTERVAL = 5.0
PROBE_QUEUE = "probe"  # answered by Worker.answer_probes for GET /health/worker
PROBE_POLL_INTERVAL = 1.0
SQL_METRICS_INTERVAL = 5.0

TASKS = Counter("skeldir_worker_tasks", "Tasks run, by queue, task and outcome", ["queue", "task", "outcome"])
TASK_SECONDS = Histogram(
    "skeldir_worker_task_duration_seconds",
    "Handler time per task",
    ["queue", "task"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = Histogram(
    "skeldir_worker_batch_size",
    "Messages per batch",
    ["queue"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
RETRIES = Counter("skeldir_worker_task_retries", "Task failures scheduled for a retry", ["queue", "task"])
FAILED_JOBS = Counter(
    "skeldir_worker_failed_jobs_captured", "Tasks moved to worker_failed_jobs after their last retry", ["queue", "task"]
)
PROBES = Counter("skeldir_worker_probes_answered", "Health probes answered through the probe queue")
DATABASE_UP = Gauge("skeldir_worker_database_up", "1 while this worker reaches the database, else 0")
DATABASE_UP.set(1)
SQL_METRICS_ERRORS = Counter("skeldir_worker_sql_metrics_refresh_errors", "Failed reads of api.matview_refresh_stats()")


class MatviewCollector(Collector):
    """Matview refreshes by view and outcome, as api.matview_refresh_stats() last reported them.

    These are database truth (every refresh, whoever ran it), so every worker reports the same
    values: aggregate them with max(), not sum().
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, str | None, int, float, bool, datetime | None]] = []

    def collect(self) -> Iterator[Metric]:
        refreshes = CounterMetricFamily(
            "skeldir_matview_refreshes", "Matview refreshes by view and outcome", labels=["view", "outcome"]
        )
        seconds = CounterMetricFamily(
            "skeldir_matview_refresh_seconds", "Time spent refreshing, by view and outcome", labels=["view", "outcome"]
        )
        dirty = GaugeMetricFamily("skeldir_matview_dirty", "1 while the view has unrefreshed changes", labels=["view"])
        last = GaugeMetricFamily(
            "skeldir_matview_last_refresh_timestamp_seconds", "Start of the last successful refresh", labels=["view"]
        )
        seen: set[str] = set()
        for view, outcome, count, total, is_dirty, refreshed_at in self.rows:
            if outcome is not None:
                refreshes.add_metric([view, outcome], count)
                seconds.add_metric([view, outcome], total)
            if view not in seen:
                seen.add(view)
                dirty.add_metric([view], 1 if is_dirty else 0)
                if refreshed_at is not None:
                    last.add_metric([view], refreshed_at.timestamp())
        yield from (refreshes, seconds, dirty, last)


MATVIEWS = MatviewCollector()
REGISTRY.register(MATVIEWS)


class Worker:
    def __init__(self, dsn: str, queues: list[str], batch: int, concurrency: int, gather: float = 0.0) -> None:
        self.dsn = dsn
        self.queues = queues
        self.batch = batch
        self.concurrency = concurrency
        self.gather = gather
        self.worker_id = uuid.uuid4()
        self.started_at = datetime.now(UTC)
        self.stopping = asyncio.Event()
        self.wake = {q: asyncio.Event() for q in queues}
        self.wake[PROBE_QUEUE] = asyncio.Event()
        self.db_ok = True
        self.pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=len(queues) * concurrency + 2,
            open=False,
            timeout=5.0,
            # fallback_application_name: a DSN's own application_name wins; pg_stat_activity (and
            # the load harness) tell its backends apart.
            kwargs={"autocommit": True, "fallback_application_name": "skeldir-worker"},
            # Test a connection when it is checked out: after a database restart no loop gets a
            # dead one, so reachability flips once and stays (one log line per state change).
            check=AsyncConnectionPool.check_connection,
        )

    def _db_state(self, ok: bool, exc: BaseException | None = None) -> None:
        """Logs one line per change of database reachability, not one per attempt."""
        if ok != self.db_ok:
            self.db_ok = ok
            DATABASE_UP.set(1 if ok else 0)
            if ok:
                log.info("database reachable again; resuming")
            else:
                log.warning("database unreachable (%s); backing off", type(exc).__name__)

    async def run_batch(self, queue: str) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT task, outcome, duration_ms FROM api.task_run_batch(%s, %s)",
                [queue, self.batch],
                prepare=True,
            )
            rows = await cur.fetchall()
        if rows:
            BATCH_SIZE.labels(queue).observe(len(rows))
        for task, outcome, duration_ms in rows:
            label = task if task in KNOWN_TASKS else "other"
            TASKS.labels(queue, label, outcome).inc()
            TASK_SECONDS.labels(queue, label).observe(duration_ms / 1000.0)
            if outcome == "retried":
                RETRIES.labels(queue, label).inc()
            elif outcome == "failed":
                FAILED_JOBS.labels(queue, label).inc()
        return len(rows)

    async def drain(self, queue: str) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                n = await self.run_batch(queue)
                self._db_state(True)
                backoff = 0.5
            except (psycopg.OperationalError, PoolTimeout) as exc:
                self._db_state(False, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except psycopg.Error as exc:
                log.error("batch on %s failed: %s", queue, exc.sqlstate)
                await self._sleep(1.0)
                continue
            if n == 0:
                self.wake[queue].clear()
                await self._wait(self.wake[queue], POLL_INTERVAL)
            elif n < self.batch and self.gather > 0:
                # Not full: the queue is drained. Let the next batch fill a while, so that under
                # steady load the per-batch cost (read, archive, commit) is shared by many tasks.
                await self._sleep(self.gather)

    async def drain_llm(self) -> None:
        from skeldir.worker.llm.consumer import LlmConsumer

        await LlmConsumer(self.pool, self.stopping, self.wake["llm"], db_state=self._db_state).run()

    async def _sleep(self, seconds: float) -> None:
        await self._wait(asyncio.Event(), seconds)

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.stopping.wait())]
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()

    async def listen(self) -> None:
        """Wakes queue loops on pgmq insert notifications; reconnects when dropped."""
        while not self.stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    for q in self.wake:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(f"pgmq.q_{q}.INSERT")))
                    gen = conn.notifies()
                    async for note in gen:
                        queue = note.channel.removeprefix("pgmq.q_").removesuffix(".INSERT")
                        if queue in self.wake:
                            self.wake[queue].set()
                        if self.stopping.is_set():
                            break
            except (psycopg.Error, OSError):
                await self._sleep(2.0)

    async def heartbeat(self) -> None:
        host = socket.gethostname()
        while not self.stopping.is_set():
            try:
                async with self.pool.connection() as conn:
                    await conn.execute(
                        "SELECT api.worker_heartbeat(%s, %s, %s, %s, %s)",
                        [self.worker_id, os.getpid(), host, self.queues, self.started_at],
                    )
            except (psycopg.Error, PoolTimeout) as exc:
                self._db_state(False, exc)
            await self._sleep(HEARTBEAT_INTERVAL)

    async def answer_probes(self) -> None:
        """Archives /health/worker probes: woken by their insert notification, or polling."""
        while not self.stopping.is_set():
            try:
                async with self.pool.connection() as conn:
                    cur = await conn.execute("SELECT api.worker_probe_answer()")
                    row = await cur.fetchone()
                if row and row[0]:
                    PROBES.inc(row[0])
            except (psycopg.Error, PoolTimeout) as exc:
                self._db_state(False, exc)
            self.wake[PROBE_QUEUE].clear()
            await self._wait(self.wake[PROBE_QUEUE], PROBE_POLL_INTERVAL)

    async def refresh_sql_metrics(self) -> None:
        """Reads the database-truth metrics the exporter shows (matview refreshes) every few seconds."""
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                async with self.pool.connection() as conn:
                    cur = await conn.execute(
                        "SELECT view_name, outcome, refreshes, seconds_total, dirty, refreshed_at"
                        " FROM api.matview_refresh_stats()"
                    )
                    MATVIEWS.rows = await cur.fetchall()
            except (psycopg.Error, PoolTimeout):
                SQL_METRICS_ERRORS.inc()
            await self._sleep(max(0.0, SQL_METRICS_INTERVAL - (time.monotonic() - started)))

    async def check_identity(self) -> int | None:
        """Started while the database was unreachable: waits (capped backoff) for the first
        connection and checks the runtime identity on it. An exit code when the worker must
        not run: 2 for a privileged identity, 0 when stopped first."""
        self.db_ok = False
        DATABASE_UP.set(0)
        try:
            role = await await_least_privilege(self.dsn, lambda reason: None, self.stopping)
        except IdentityError as exc:
            print(f"skeldir worker: {exc}", file=sys.stderr, flush=True)
            return 2
        if role is None:
            log.info("worker stopped before the database was reachable")
            return 0
        self._db_state(True)
        log.info("worker connecting as %s", role)
        return None

    async def run(self, identity_checked: bool = True) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        if not identity_checked and (refused := await self.check_identity()) is not None:
            return refused
        await self.pool.open(wait=False)
        log.info(
            "worker %s polling %s (batch %d, concurrency %d, gather %.2f s)",
            self.worker_id,
            ",".join(self.queues),
            self.batch,
            self.concurrency,
            self.gather,
        )
        listener = asyncio.create_task(self.listen())
        beat = asyncio.create_task(self.heartbeat())
        probes = asyncio.create_task(self.answer_probes())
        sql_metrics = asyncio.create_task(self.refresh_sql_metrics())
        drains = [
            asyncio.create_task(self.drain_llm() if q == "llm" else self.drain(q))
            for q in self.queues
            for _ in range(self.concurrency)
        ]
        await self.stopping.wait()
        log.info("stopping: finishing in-flight batches")
        # A batch stuck behind a lock must not keep the worker from exiting: past the grace
        # period it is cancelled (psycopg cancels the statement, the transaction rolls back)
        # and its messages are taken again after their visibility timeout.
        _, stuck = await asyncio.wait(drains, timeout=SHUTDOWN_GRACE)
        if stuck:
            log.warning("stopping: %d batch(es) still running after %.0f s; cancelled", len(stuck), SHUTDOWN_GRACE)
            for task in stuck:
                task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)
        for task in (listener, beat, probes, sql_metrics):
            task.cancel()
        await asyncio.gather(listener, beat, probes, sql_metrics, return_exceptions=True)
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                await conn.execute("SELECT api.worker_stopped(%s)", [self.worker_id])
        except (psycopg.Error, PoolTimeout):
            pass
        await self.pool.close(timeout=1.0)
        log.info("worker stopped")
        return 0


def run(
    dsn: str,
    queues: list[str],
    batch: int = 500,
    concurrency: int = 1,
    gather: float = 0.2,
    metrics_port: int = 9108,
    metrics_host: str = "127.0.0.1",
) -> int:
    logs.configure()
    unknown = [q for q in queues if q not in QUEUES]
    if unknown or not queues:
        print(
            f"skeldir worker: unknown queue(s) {','.join(unknown) or '(none)'}; choose from {','.join(QUEUES)}",
            file=sys.stderr,
        )
        return 2
    if not 1 <= batch <= 1000 or gather < 0:
        print(f"skeldir worker: --batch must be 1..1000 and --gather >= 0 (got {batch}, {gather})", file=sys.stderr)
        return 2
    try:
        role: str | None = assert_least_privilege(dsn)
        unreachable = None
    except DatabaseUnreachable as exc:
        # Start anyway (issue 18 §5): the exporter reports the database down, and the identity
        # is checked on the first connection that succeeds.
        role, unreachable = None, str(exc)
    except IdentityError as exc:
        print(f"skeldir worker: {exc}", file=sys.stderr)
        return 2
    if metrics_port:
        try:
            start_http_server(metrics_port, addr=metrics_host)
        except OSError as exc:
            print(
                f"skeldir worker: cannot serve metrics on {metrics_host}:{metrics_port}: {exc}",
                file=sys.stderr,
            )
            return 2
    if role is None:
        log.warning("database unreachable (%s); retrying, the identity is checked on the first connection", unreachable)
    else:
        log.info("worker connecting as %s", role)
    return asyncio.run(Worker(dsn, queues, batch, concurrency, gather).run(identity_checked=role is not None))
