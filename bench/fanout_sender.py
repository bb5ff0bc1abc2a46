"""The one sender of the fan-out: paced, or as fast as a window of unacknowledged sends allows.

Every target gets the same sender: at most ``window`` sends waiting for their
acknowledgement, each body stamped with the clock just before it goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection

from bench.fanout_clock import now_ns, stamped_body
from bench.fanout_dialects import Dialect, open_socket

__all__ = ["Sender", "Sent"]

ACK_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Sent:
    first_send_ns: int
    acknowledged: int


class Sender:
    def __init__(self, socket: ClientConnection, dialect: Dialect) -> None:
        self._socket = socket
        self._dialect = dialect
        # Refs are never reused: Parley takes a repeated client_id for a resend.
        self._next_ref = 1
        self._window = asyncio.Semaphore()
        self._acknowledged = 0
        self._expected = 0
        self._all_acknowledged = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(cls, url: str, dialect: Dialect, credential: str) -> AsyncIterator[Sender]:
        socket = await open_socket(url, dialect, credential, offer_compression=False)
        sender = cls(socket, dialect)
        try:
            yield sender
        finally:
            sender._reader.cancel()
            await sender._socket.close()

    async def _read(self) -> None:
        async for frame in self._socket:
            if self._dialect.acknowledged(frame) is not None:
                self._acknowledged += 1
                self._window.release()
                if self._acknowledged >= self._expected:
                    self._all_acknowledged.set()
                continue
            answer = self._dialect.answer(frame)
            if answer is not None:
                await self._socket.send(answer)

    async def send(self, room: str, count: int, *, rate: float | None, window: int) -> Sent:
        """``count`` messages, ``rate`` a second (None: as fast as the window allows);
        returns once all are acknowledged (or after ``ACK_TIMEOUT_SECONDS``)."""
        self._window = asyncio.Semaphore(window)
        self._acknowledged, self._expected = 0, count
        self._all_acknowledged.clear()
        loop = asyncio.get_running_loop()
        started = loop.time()
        first_send_ns = 0
        for index in range(count):
            await self._window.acquire()
            if rate is not None:
                await asyncio.sleep(started + index / rate - loop.time())
            sent_ns = now_ns()
            first_send_ns = first_send_ns or sent_ns
            ref, self._next_ref = self._next_ref, self._next_ref + 1
            await self._socket.send(self._dialect.send_frame(room, stamped_body(sent_ns), ref))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_acknowledged.wait(), ACK_TIMEOUT_SECONDS)
        return Sent(first_send_ns, self._acknowledged)
