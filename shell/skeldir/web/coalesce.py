"""One socket write per response instead of two.

uvicorn's httptools protocol writes the status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two ``send``
calls, two TCP segments (TCP_NODELAY is on), and on the receiving side two wake-ups for one
answer. Every webhook answer is small and sent whole, so the shell's connections get a
transport that gathers what is written during one pass of the event loop and hands it to
the socket once, at the end of that pass (``loop.call_soon``). Order is kept; nothing waits
longer than the current pass; ``close`` sends what is gathered first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Wraps an ``asyncio.Transport``: ``write`` gathers, one ``write`` per loop pass."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._chunks:
            self._loop.call_soon(self.flush)
        self._chunks.append(data)

    def flush(self) -> None:
        if not self._chunks:
            return
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a ``CoalescingTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
