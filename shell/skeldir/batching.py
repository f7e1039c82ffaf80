"""Group commit for the shell: concurrent deliveries share one ``api.webhook_receive_batch`` call.

Leader/follower batching without timers: a delivery that finds a free flusher is sent at
once (alone, through the plain ``api.webhook_receive``, so an idle shell adds no latency);
deliveries that arrive while every flusher is waiting on the database queue up, and the
next free flusher takes them all (up to ``max_batch``) into one transaction. Under load
batches grow by themselves; commits, round trips and Python work per delivery shrink.

Each delivery still gets its own answer, and only after the transaction committed (the
call returns after COMMIT; synchronous_commit is on), so a 2xx still means durable.
A delivery whose subtransaction raised a retryable SQLSTATE (class 40: deadlock or
serialization failure; 55P03: it waited too long for a lock another batch holds) is
retried once on its own, after its batch committed; any other
error reaches the caller as the ``psycopg.Error`` a single call would have raised. When
the batch call itself fails before running (the driver or a parameter cast refuses one
delivery's value), every delivery of it is run alone, so only the bad one fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from skeldir.config import env

SINGLE = "SELECT http_status, outcome, response FROM api.webhook_receive(%s, %s, %s::jsonb, %s, %s)"
# The arrays travel in binary format (%b): psycopg's text format quotes and escapes every
# element (a regex per header JSON, hex for every body), which cost the shell more than
# anything else per delivery; binary sends the bytes as they are. A NUL in a text element
# is then refused by the server (SQLSTATE 22021) instead of the driver, before any
# delivery ran: the batch is rerun one by one all the same, and the single call refuses it.
BATCH = (
    "SELECT ord, http_status, outcome, response, error_sqlstate"
    " FROM api.webhook_receive_batch(%b::text[], %b::text[], %b::jsonb[], %b::bytea[], %b::text[])"
)


@dataclass(frozen=True)
class Delivery:
    vendor: str
    route: str
    headers: str  # a JSON object, as text
    body: bytes
    token: str | None


class DeliveryError(psycopg.Error):
    """A delivery raised inside its batch subtransaction; carries its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"delivery failed with SQLSTATE {sqlstate}")
        self._sqlstate = sqlstate

    @property
    def sqlstate(self) -> str | None:  # type: ignore[override]
        return self._sqlstate


Answer = tuple[int, str, str]  # http_status, outcome, response


def settle(future: asyncio.Future[Answer], value: Answer | BaseException) -> None:
    """Answers a waiter unless it is gone (the client disconnected and its handler was cancelled)."""
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)


class GroupCommit:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        max_batch: int,
        flushers: int,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        self.pool = pool
        self.max_batch = max(1, max_batch)
        self.flushers = max(1, flushers)
        self.observe = observe  # called with the size of every batch taken from the queue
        self.active = 0
        self.pending: list[tuple[Delivery, asyncio.Future[Answer]]] = []
        self.tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_env(
        cls, pool: AsyncConnectionPool, pool_size: int, observe: Callable[[int], None] | None = None
    ) -> GroupCommit:
        return cls(
            pool,
            max_batch=int(env("SKELDIR_GROUP_COMMIT_MAX", "32") or 32),
            flushers=int(env("SKELDIR_GROUP_COMMIT_FLUSHERS", str(max(1, pool_size // 2))) or 1),
            observe=observe,
        )

    async def receive(self, delivery: Delivery) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.pending.append((delivery, future))
        if self.active < self.flushers:
            self.active += 1
            task = asyncio.create_task(self._flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await future

    async def _flush(self) -> None:
        try:
            while self.pending:
                batch = self.pending[: self.max_batch]
                del self.pending[: self.max_batch]
                if self.observe is not None:
                    self.observe(len(batch))
                await self._run(batch)
        finally:
            self.active -= 1

    async def _run(self, batch: list[tuple[Delivery, asyncio.Future[Answer]]]) -> None:
        try:
            if len(batch) == 1:
                settle(batch[0][1], await self._single(batch[0][0]))
                return
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    BATCH,
                    [
                        [d.vendor for d, _ in batch],
                        [d.route for d, _ in batch],
                        [d.headers for d, _ in batch],
                        [d.body for d, _ in batch],
                        [d.token for d, _ in batch],
                    ],
                    prepare=True,
                )
                rows = await cur.fetchall()
        except (psycopg.OperationalError, PoolTimeout) as exc:  # database unreachable: every waiter learns it
            for _, future in batch:
                settle(future, exc)
            return
        except psycopg.Error as exc:
            if len(batch) == 1:
                settle(batch[0][1], exc)
                return
            # One delivery made the whole call fail before any ran (a value the driver or a
            # parameter cast refuses, e.g. a NUL in a header): each one runs alone instead,
            # so it fails alone.
            await self._each_alone(batch)
            return
        except BaseException as exc:
            for _, future in batch:
                settle(future, exc)
            raise
        retry = []
        for ord_, http_status, outcome, response, sqlstate in rows:
            delivery, future = batch[ord_ - 1]
            if sqlstate is None:
                settle(future, (http_status, outcome, response))
            elif sqlstate.startswith("40") or sqlstate == "55P03":
                retry.append((delivery, future))
            else:
                settle(future, DeliveryError(sqlstate))
        for delivery, future in retry:
            try:
                settle(future, await self._single(delivery))
            except Exception as exc:
                settle(future, exc)

    async def _each_alone(self, batch: list[tuple[Delivery, asyncio.Future[Answer]]]) -> None:
        for delivery, future in batch:
            try:
                settle(future, await self._single(delivery))
            except Exception as exc:
                settle(future, exc)

    async def _single(self, d: Delivery) -> Answer:
        async with self.pool.connection() as conn:
            cur = await conn.execute(SINGLE, [d.vendor, d.route, d.headers, d.body, d.token], prepare=True)
            row = await cur.fetchone()
        assert row is not None
        return row[0], row[1], row[2]
