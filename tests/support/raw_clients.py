"""Clients that break the rules on purpose: raw HTTP and WebSocket bytes, sent as slowly or
as fast as a test likes, with the server's answer kept whatever happens to the connection.

A client library would read what the server writes (pongs, say) or refuse to send a body
that disagrees with its ``Content-Length``; these do neither.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

__all__ = [
    "OPCODE_CLOSE",
    "OPCODE_PING",
    "OPCODE_TEXT",
    "RawConnection",
    "RawResponse",
    "masked_frame",
    "ping_frame",
    "process_rss_mb",
    "text_frame",
]

OPCODE_TEXT = 0x1
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9


def process_rss_mb(pid: int) -> float:
    """The resident memory of process ``pid``, in MB (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    msg = f"no VmRSS for process {pid}"
    raise RuntimeError(msg)


def masked_frame(payload: bytes, *, opcode: int) -> bytes:
    """One final WebSocket frame as a client must send it (masked), under 64 KiB."""
    assert len(payload) < 65536
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    if len(payload) < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload))
    else:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, len(payload))
    return head + mask + masked


def ping_frame(payload: bytes = b"p" * 125) -> bytes:
    return masked_frame(payload, opcode=OPCODE_PING)


def text_frame(text: str) -> bytes:
    return masked_frame(text.encode(), opcode=OPCODE_TEXT)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection(asyncio.Protocol):
    """A TCP connection that keeps every byte the server sent, even after a reset, and
    writes with the transport's flow control (``write`` waits while the server reads
    nothing)."""

    # Every connection still open; a test module's fixture closes them after each test.
    opened: ClassVar[set[RawConnection]] = set()

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, base_url: str, *, receive_buffer: int | None = None) -> RawConnection:
        """Connect to ``base_url``; ``receive_buffer`` shrinks the kernel's buffer for what
        the server sends, so that what this client leaves unread stays with the server."""
        host, port = base_url.removeprefix("http://").split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, (host, int(port)))
        except BaseException:
            sock.close()
            raise
        _, connection = await loop.create_connection(cls, sock=sock)
        return connection

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.opened.add(self)

    def data_received(self, data: bytes) -> None:
        self.received += data
        self._arrived.set()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.opened.discard(self)
        self.closed.set()
        self._arrived.set()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # --- sending --------------------------------------------------------------------------

    async def write(self, data: bytes) -> bool:
        """Send ``data`` once the transport takes more; False if the connection is gone."""
        await self._writable.wait()
        if self.closed.is_set() or self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    async def write_for(self, data: bytes, seconds: float) -> int:
        """Send ``data`` again and again for ``seconds``, or until the server stops taking
        it or closes; returns the bytes handed to the transport."""
        sent = 0
        try:
            async with asyncio.timeout(seconds):
                while await self.write(data):
                    sent += len(data)
                    await asyncio.sleep(0)
        except TimeoutError:
            pass
        return sent

    @property
    def write_blocked(self) -> bool:
        """True while the kernel's buffers towards the server are full: it stopped reading."""
        return not self._writable.is_set()

    def stop_reading(self) -> None:
        """Read nothing more: what the server sends stays in its buffers."""
        assert self.transport is not None
        self.transport.pause_reading()

    def start_reading(self) -> None:
        assert self.transport is not None
        self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.closed.is_set():
            self.transport.abort()

    @classmethod
    async def close_all(cls) -> None:
        """Abort every connection still open, and wait until the loop has closed them."""
        connections = list(cls.opened)
        for connection in connections:
            connection.close()
        async with asyncio.timeout(10):
            await asyncio.gather(*(connection.closed.wait() for connection in connections))

    # --- receiving ------------------------------------------------------------------------

    async def wait_closed(self, within: float) -> bool:
        """True if the server closed the connection within ``within`` seconds."""
        try:
            async with asyncio.timeout(within):
                await self.closed.wait()
        except TimeoutError:
            return False
        return True

    async def response(self, within: float = 10) -> RawResponse:
        """The first HTTP response the server sent (``Content-Length`` framed)."""
        async with asyncio.timeout(within):
            while True:
                parsed = _parse_response(bytes(self.received))
                if parsed is not None:
                    return parsed
                if self.closed.is_set():
                    msg = f"closed before a whole response: {bytes(self.received[:200])!r}"
                    raise ConnectionError(msg)
                self._arrived.clear()
                await self._arrived.wait()

    async def upgrade_to_websocket(self, path: str = "/ws") -> RawResponse:
        """Send the WebSocket handshake and wait for the server's answer to it."""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: parley.test\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert await self.write(request.encode())
        async with asyncio.timeout(10):
            while b"\r\n\r\n" not in self.received:
                if self.closed.is_set():
                    msg = "closed during the WebSocket handshake"
                    raise ConnectionError(msg)
                self._arrived.clear()
                await self._arrived.wait()
        head, _, rest = bytes(self.received).partition(b"\r\n\r\n")
        self.received = bytearray(rest)
        status, headers = _parse_head(head)
        return RawResponse(status, headers, b"")

    async def next_frame(self, within: float = 10) -> tuple[int, bytes]:
        """The opcode and payload of the next frame from the server (unmasked, under 64 KiB)."""
        async with asyncio.timeout(within):
            while True:
                if len(self.received) >= 2:
                    length = self.received[1] & 0x7F
                    start = 2
                    if length == 126:
                        length = struct.unpack("!H", self.received[2:4])[0]
                        start = 4
                    if len(self.received) >= start + length:
                        opcode = self.received[0] & 0x0F
                        payload = bytes(self.received[start : start + length])
                        del self.received[: start + length]
                        return opcode, payload
                if self.closed.is_set():
                    msg = "closed before a whole frame"
                    raise ConnectionError(msg)
                self._arrived.clear()
                await self._arrived.wait()

    async def frame_text(self, within: float = 10) -> str:
        """The payload of the next frame from the server, which must be a text frame."""
        opcode, payload = await self.next_frame(within)
        assert opcode == OPCODE_TEXT, (opcode, payload)
        return payload.decode()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


def _parse_response(data: bytes) -> RawResponse | None:
    head, found, rest = data.partition(b"\r\n\r\n")
    if not found:
        return None
    status, headers = _parse_head(head)
    length = int(headers.get("content-length", "0"))
    if len(rest) < length:
        return None
    return RawResponse(status, headers, rest[:length])
