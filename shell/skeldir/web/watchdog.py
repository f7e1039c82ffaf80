"""Deadlines for everything a request waits on, so that every request gets an answer.

Each webhook request may wait for the database at most ``pool timeout + WATCHDOG_MARGIN``
seconds; past that it is answered 503 with Retry-After (the sender retries, and dedupe
makes the retry safe) instead of waiting for ever behind a lock, a stuck batch or an
unanswering server. On SIGTERM ``close`` pulls every deadline in to the end of the grace
period, so in-flight batches may still commit and answer, and the shell exits in time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from skeldir.config import SHUTDOWN_GRACE

WATCHDOG_MARGIN = 3.0  # seconds a request may wait beyond the pool's own timeout


class Watchdog:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.closing_at: float | None = None
        self._active: dict[asyncio.Timeout, float] = {}  # each bound -> how early it fires before its deadline

    def deadline(self) -> float:
        """The loop time by which a request starting now must be answered."""
        return self._cap(asyncio.get_running_loop().time() + self.timeout)

    def _cap(self, when: float) -> float:
        return when if self.closing_at is None else min(when, self.closing_at)

    @contextlib.asynccontextmanager
    async def bound(self, deadline: float, early: float = 0.0) -> AsyncIterator[None]:
        """Raises TimeoutError (at exit) when the block is still running ``early`` s before the deadline."""
        async with asyncio.timeout_at(self._cap(deadline) - early) as cm:
            self._active[cm] = early
            try:
                yield
            finally:
                del self._active[cm]

    def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Shutdown: whatever is still waiting must be done within ``grace`` seconds from now."""
        self.closing_at = asyncio.get_running_loop().time() + grace
        for cm, early in list(self._active.items()):
            when = cm.when()
            limit = self.closing_at - early
            if not cm.expired() and (when is None or when > limit):
                with contextlib.suppress(RuntimeError):  # expiring right now: nothing to pull in
                    cm.reschedule(limit)
