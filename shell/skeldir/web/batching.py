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

Every delivery is answered, whatever happens (issue 18): a failure of one delivery is
that delivery's answer alone; a defect in this module answers its batch (503 upstream)
and is logged; and the watchdog (watchdog.py) bounds each wait, cancelling a batch's
statement just before its earliest member's deadline and answering DeliveryTimeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from skeldir.config import env
from skeldir.web.watchdog import WATCHDOG_MARGIN, Watchdog

log = logging.getLogger("skeldir.shell.batching")

CANCEL_ALLOWANCE = 1.0  # seconds before a batch's deadline at which its statement is cancelled

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
        # Before the base initializer: psycopg.Error.__init__ reads self.sqlstate.
        self._sqlstate = sqlstate
        super().__init__(f"delivery failed with SQLSTATE {sqlstate}")

    @property
    def sqlstate(self) -> str | None:  # type: ignore[override]
        return self._sqlstate


class DeliveryTimeout(Exception):
    """The watchdog's answer: no result within the request's deadline (the shell answers 503)."""


Answer = tuple[int, str, str]  # http_status, outcome, response


@dataclass(eq=False)
class Pending:
    delivery: Delivery
    future: asyncio.Future[Answer]
    deadline: float  # event-loop time by which its request must be answered


def settle(future: asyncio.Future[Answer], value: Answer | BaseException) -> None:
    """Answers a waiter unless it is gone (the client disconnected and its handler was cancelled)."""
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
        future.exception()  # retrieved: a waiter that gave up must not leave "never retrieved" noise
    else:
        future.set_result(value)


class GroupCommit:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        max_batch: int,
        flushers: int,
        observe: Callable[[int], None] | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.pool = pool
        self.max_batch = max(1, max_batch)
        self.flushers = max(1, flushers)
        self.observe = observe  # called with the size of every batch taken from the queue
        self.watchdog = watchdog or Watchdog(pool.timeout + WATCHDOG_MARGIN)
        self.active = 0
        self.pending: list[Pending] = []
        self.tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_env(
        cls,
        pool: AsyncConnectionPool,
        pool_size: int,
        observe: Callable[[int], None] | None = None,
        watchdog: Watchdog | None = None,
    ) -> GroupCommit:
        return cls(
            pool,
            max_batch=int(env("SKELDIR_GROUP_COMMIT_MAX", "32") or 32),
            flushers=int(env("SKELDIR_GROUP_COMMIT_FLUSHERS", str(max(1, pool_size // 2))) or 1),
            observe=observe,
            watchdog=watchdog,
        )

    async def receive(self, delivery: Delivery, deadline: float | None = None) -> Answer:
        """The delivery's answer, or DeliveryTimeout once its deadline (default: the watchdog's) passed."""
        entry = Pending(
            delivery,
            asyncio.get_running_loop().create_future(),
            self.watchdog.deadline() if deadline is None else deadline,
        )
        self.pending.append(entry)
        if self.active < self.flushers:
            self.active += 1
            task = asyncio.create_task(self._flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        try:
            async with self.watchdog.bound(entry.deadline):
                # shield: the watchdog must not cancel the future a flusher will settle.
                return await asyncio.shield(entry.future)
        except TimeoutError:
            raise DeliveryTimeout from None
        finally:
            if not entry.future.done():  # timed out (or cancelled) while still queued: never sent
                with contextlib.suppress(ValueError):
                    self.pending.remove(entry)
                entry.future.cancel()

    async def _flush(self) -> None:
        try:
            while self.pending:
                batch = self.pending[: self.max_batch]
                del self.pending[: self.max_batch]
                if self.observe is not None:
                    self.observe(len(batch))
                await self._run_bounded(batch)
        finally:
            self.active -= 1

    async def _run_bounded(self, batch: list[Pending]) -> None:
        """Runs a batch within its earliest deadline; whatever happens, every member is answered.

        The statement is cancelled (psycopg cancels it in the server, so nothing commits
        after the answer) CANCEL_ALLOWANCE before the deadline, which leaves the cancel time
        to arrive before the members' own watchdogs answer them.
        """
        failure: BaseException
        try:
            async with self.watchdog.bound(min(p.deadline for p in batch), early=CANCEL_ALLOWANCE):
                await self._run(batch)
        except TimeoutError:
            failure = DeliveryTimeout()
        except asyncio.CancelledError:
            for p in batch:
                settle(p.future, DeliveryTimeout())
            raise
        except Exception as exc:  # a defect here must cost its batch an answer of 503, not hang it
            log.error("group commit batch of %d failed", len(batch), extra={"error": type(exc).__name__})
            failure = exc
        else:
            failure = RuntimeError("the batch left a delivery unanswered")
        for p in batch:
            settle(p.future, failure)

    async def _run(self, batch: list[Pending]) -> None:
        try:
            if len(batch) == 1:
                settle(batch[0].future, await self._single(batch[0].delivery))
                return
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    BATCH,
                    [
                        [p.delivery.vendor for p in batch],
                        [p.delivery.route for p in batch],
                        [p.delivery.headers for p in batch],
                        [p.delivery.body for p in batch],
                        [p.delivery.token for p in batch],
                    ],
                    prepare=True,
                )
                rows = await cur.fetchall()
        except (psycopg.OperationalError, PoolTimeout) as exc:  # database unreachable: every waiter learns it
            for p in batch:
                settle(p.future, exc)
            return
        except psycopg.Error as exc:
            if len(batch) == 1:
                settle(batch[0].future, exc)
                return
            # One delivery made the whole call fail before any ran (a value the driver or a
            # parameter cast refuses, e.g. a NUL in a header): each one runs alone instead,
            # so it fails alone.
            await self._each_alone(batch)
            return
        retry = []
        for ord_, http_status, outcome, response, sqlstate in rows:
            p = batch[ord_ - 1]
            if sqlstate is None:
                settle(p.future, (http_status, outcome, response))
            elif sqlstate.startswith("40") or sqlstate == "55P03":
                retry.append(p)
            else:
                settle(p.future, DeliveryError(sqlstate))
        await self._each_alone(retry)

    async def _each_alone(self, batch: list[Pending]) -> None:
        for p in batch:
            if p.future.done():
                continue
            try:
                settle(p.future, await self._single(p.delivery))
            except Exception as exc:
                settle(p.future, exc)

    async def _single(self, d: Delivery) -> Answer:
        async with self.pool.connection() as conn:
            cur = await conn.execute(SINGLE, [d.vendor, d.route, d.headers, d.body, d.token], prepare=True)
            row = await cur.fetchone()
        assert row is not None
        return row[0], row[1], row[2]
