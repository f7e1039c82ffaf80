"""The shell's HTTP protocol: coalesced writes (coalesce.py) and a deadline on request heads.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but any byte
resets that timer and nothing bounds how long a request head may take to arrive: a client
sending blank lines, or one header byte at a time (slowloris), holds its connection and
socket for ever. Here a connection must deliver each complete request head within
HEAD_TIMEOUT of connecting or of its previous answer, else it is closed. Requests already
being answered, and pipelined requests already parsed, are never cut off by it.
"""

from __future__ import annotations

import asyncio

from skeldir.web.coalesce import CoalescingHttpToolsProtocol

HEAD_TIMEOUT = 10.0  # seconds a client may take to send one request's line and headers


class ShellProtocol(CoalescingHttpToolsProtocol):
    head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self.head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.pipeline and not self.transport.is_closing():
            self.transport.close()
