"""The ``llm`` queue consumer: SQL admits, the provider boundary calls, SQL records.

Per batch: ``api.llm_admit_batch`` reads messages and runs admission in SQL (kill switch,
breaker, hourly shutoff, budget, cache), completing blocked and cached calls itself; it
returns only the admitted ones. For each, :func:`skeldir.worker.llm.provider.call` calls the
provider under the hard timeout (the only I/O outside the database), and
``api.llm_record`` records the outcome, moves the breaker and archives the message without
its prompt. No connection is held while a provider call is in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
import psycopg
from prometheus_client import Counter, Histogram
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from skeldir.worker.llm import provider

log = logging.getLogger("skeldir.llm")

POLL_INTERVAL = 1.0
RECORD_ATTEMPTS = 5

PROVIDER_CALLS = Counter(
    "skeldir_llm_provider_calls", "LLM provider calls, by provider and outcome", ["provider", "outcome"]
)
PROVIDER_SECONDS = Histogram(
    "skeldir_llm_provider_call_duration_seconds",
    "LLM provider call latency",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class LlmConsumer:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        stopping: asyncio.Event,
        wake: asyncio.Event,
        batch: int = 10,
        concurrency: int = 4,
        db_state: Callable[[bool, BaseException | None], None] | None = None,
    ) -> None:
        self.pool = pool
        self.stopping = stopping
        self.wake = wake
        self.batch = batch
        self.slots = asyncio.Semaphore(concurrency)
        self.db_state = db_state or (lambda ok, exc: None)

    async def admit(self) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT msg_id, tenant_id, call_id, task, provider, model, timeout_ms, inputs"
                " FROM api.llm_admit_batch(%s)",
                [self.batch],
                prepare=True,
            )
            return await cur.fetchall()

    async def handle(self, row: tuple[Any, ...]) -> None:
        msg_id, tenant_id, call_id, task, provider_name, model, timeout_ms, inputs = row
        async with self.slots:
            outcome = await provider.call(provider_name, task, model, inputs or {}, timeout_ms)
        PROVIDER_CALLS.labels(provider_name, outcome.kind).inc()
        PROVIDER_SECONDS.labels(provider_name).observe(outcome.latency_ms / 1000.0)
        params = [
            msg_id,
            tenant_id,
            call_id,
            outcome.kind,
            outcome.input_tokens,
            outcome.output_tokens,
            outcome.latency_ms,
            orjson.dumps(outcome.result).decode() if outcome.result is not None else None,
            outcome.error,
        ]
        for attempt in range(RECORD_ATTEMPTS):
            try:
                async with self.pool.connection() as conn:
                    await conn.execute(
                        "SELECT status FROM api.llm_record(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)",
                        params,
                        prepare=True,
                    )
                return
            except (psycopg.OperationalError, PoolTimeout) as exc:
                # Not recorded: retry; if the database stays away the message comes back after
                # its visibility timeout and the call is admitted again (one audit row either way).
                self.db_state(False, exc)
                await asyncio.sleep(min(0.5 * 2**attempt, 5.0))
            except psycopg.Error as exc:
                log.error("llm record of call %s failed: sqlstate=%s", call_id, exc.sqlstate)
                return

    async def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                rows = await self.admit()
                self.db_state(True, None)
                backoff = 0.5
            except (psycopg.OperationalError, PoolTimeout) as exc:
                self.db_state(False, exc)
                await self._wait(asyncio.Event(), backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except psycopg.Error as exc:
                log.error("llm admission failed: sqlstate=%s", exc.sqlstate)
                await self._wait(asyncio.Event(), 1.0)
                continue
            if rows:
                await asyncio.gather(*(self.handle(row) for row in rows))
                continue
            self.wake.clear()
            await self._wait(self.wake, POLL_INTERVAL)

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.stopping.wait())]
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
