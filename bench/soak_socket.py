"""One socket of the soak: authenticated, subscribed to one room, checking every message of it,
and posting messages when the traffic asks it to."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.soak_delivery import RoomDelivery
from tests.support.ws import ws_url

__all__ = ["SendRefused", "SoakSocket"]

Frame = dict[str, Any]

# Opening thousands of sockets queues them behind each other on a busy machine.
OPEN_TIMEOUT_SECONDS = 60


class SendRefused(Exception):
    """The server answered a send with an error frame, or the socket closed before its ack."""


class SoakSocket:
    def __init__(self, connection: ClientConnection, room_id: str, start_seq: int) -> None:
        self.connection = connection
        self.room_id = room_id
        self.delivery = RoomDelivery(start_seq)
        self.error_frames = 0
        self._acks: dict[str, asyncio.Future[int]] = {}
        self._closing = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base_url: str, token: str, room_id: str) -> SoakSocket:
        """Connect, authenticate and subscribe (live from now on, no history)."""
        connection = await connect(ws_url(base_url), open_timeout=OPEN_TIMEOUT_SECONDS)
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
                await _send(connection, {"type": "auth", "token": token})
                await _next_of_type(connection, "ready")
                await _send(connection, {"type": "subscribe", "room_id": room_id})
                subscribed = await _next_of_type(connection, "subscribed")
        except BaseException:
            await connection.close()
            raise
        return cls(connection, room_id, subscribed["last_seq"])

    @property
    def is_open(self) -> bool:
        return not self._reader.done()

    @property
    def dropped(self) -> bool:
        """Closed by the server or the network, not by us: a failure of the soak."""
        return self._reader.done() and not self._closing

    async def post(self, body: str, client_id: str) -> int:
        """Send a message to the room; its seq once the server acknowledges it."""
        if not self.is_open:
            raise SendRefused("socket closed")
        ack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._acks[client_id] = ack
        try:
            frame = {"type": "send", "room_id": self.room_id, "body": body, "client_id": client_id}
            await _send(self.connection, frame)
            return await ack
        except ConnectionClosed as closed:
            raise SendRefused("socket closed while sending") from closed
        finally:
            del self._acks[client_id]

    async def close(self) -> None:
        self._closing = not self._reader.done()
        await self.connection.close()
        await self._reader

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self._on_frame(orjson.loads(raw))
        except ConnectionClosed:
            pass  # an abnormal close; ``dropped`` and the close code tell
        finally:
            for ack in self._acks.values():
                if not ack.done():
                    ack.set_exception(SendRefused("socket closed before the ack"))

    def _on_frame(self, frame: Frame) -> None:
        kind = frame["type"]
        if kind == "message":
            if frame["room_id"] == self.room_id:
                self.delivery.observe(frame["message"]["seq"])
        elif kind == "ack":
            self._settle(frame["client_id"], frame["message"]["seq"])
        elif kind == "error":
            self.error_frames += 1
            self._settle(frame.get("ref"), SendRefused(f"{frame['code']}: {frame['detail']}"))
        # Presence and other events are not the soak's business.

    def _settle(self, client_id: str | None, outcome: int | Exception) -> None:
        ack = self._acks.get(client_id) if client_id is not None else None
        if ack is None or ack.done():
            return
        if isinstance(outcome, Exception):
            ack.set_exception(outcome)
        else:
            ack.set_result(outcome)


async def _send(connection: ClientConnection, frame: Frame) -> None:
    await connection.send(orjson.dumps(frame), text=True)


async def _next_of_type(connection: ClientConnection, kind: str) -> Frame:
    """The next frame of ``kind``; an error frame on the way raises."""
    while True:
        frame: Frame = orjson.loads(await connection.recv())
        if frame["type"] == kind:
            return frame
        if frame["type"] == "error":
            raise RuntimeError(f"expected {kind!r}, got {frame}")
