"""The shell's transport sends each answer with one socket write (skeldir/web/coalesce.py), and
HTTP over it still behaves: pipelined requests answered in order, ``Connection: close``
answered before the socket closes."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

from skeldir.web.coalesce import CoalescingTransport


class RecordingTransport:
    """Stands in for the socket end only; records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


def test_writes_of_one_loop_pass_reach_the_socket_as_one_write_in_order() -> None:
    async def run() -> tuple[list[bytes], list[bytes]]:
        inner = RecordingTransport()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        during = list(inner.writes)
        await asyncio.sleep(0)  # the end of this pass
        transport.write(b"next")
        await asyncio.sleep(0)
        return during, inner.writes

    during, after = asyncio.run(run())
    assert during == []
    assert after == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"next"]


def test_close_sends_what_was_gathered_first_and_a_closing_socket_gets_nothing_more() -> None:
    async def run() -> RecordingTransport:
        inner = RecordingTransport()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"last answer")
        transport.close()
        transport.write(b"after close")
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == "extra peername"  # the rest is the transport's
        return inner

    inner = asyncio.run(run())
    assert inner.writes == [b"last answer"] and inner.closed


def read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """Reads count HTTP answers (each with content-length) off the socket."""
    data, answers = b"", []
    while len(answers) < count:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if len(rest) >= length:
                answers.append(head + sep + rest[:length])
                data = rest[length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(answers)} of {count} answers"
        data += chunk
    return answers


def test_pipelined_requests_are_answered_in_order_and_connection_close_after_its_answer(shell: str) -> None:
    parts = urlsplit(shell)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        request = "GET {} HTTP/1.1\r\nhost: x\r\n{}\r\n"
        sock.sendall(
            (
                request.format("/health/live", "")
                + request.format("/nope", "")
                + request.format("/health/live", "connection: close\r\n")
            ).encode()
        )
        answers = read_answers(sock, 3)
        assert sock.recv(1) == b""  # closed by the server, after the last answer was sent
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 404 Not Found",
        b"HTTP/1.1 200 OK",
    ]
    assert answers[0].endswith(b'{"status":"ok"}') and answers[2].endswith(b'{"status":"ok"}')
