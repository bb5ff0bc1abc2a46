"""A small WebSocket client for tests, speaking Parley's protocol over a real socket."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.factories import Json

__all__ = ["WsClient", "ws_url"]


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/ws"


class WsClient:
    # Every client still open; the suite closes them after each test (see conftest).
    opened: ClassVar[set[WsClient]] = set()

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.user: Json | None = None
        # Frames a helper read past while looking for another type, kept for later reads.
        self._backlog: deque[Json] = deque()

    @classmethod
    async def open(cls, base_url: str, **options: Any) -> WsClient:
        client = cls(await connect(ws_url(base_url), open_timeout=10, **options))
        cls.opened.add(client)
        return client

    @classmethod
    async def close_all(cls) -> None:
        for client in list(cls.opened):
            await client.close()

    @classmethod
    async def authenticated(cls, base_url: str, token: str, **options: Any) -> WsClient:
        client = await cls.open(base_url, **options)
        await client.send({"type": "auth", "token": token})
        ready = await client.recv()
        assert ready["type"] == "ready", ready
        client.user = ready["user"]
        return client

    async def send(self, frame: Json) -> None:
        await self.connection.send(json.dumps(frame))

    async def send_raw(self, data: str | bytes) -> None:
        await self.connection.send(data)

    async def recv(self, within: float = 10) -> Json:
        if self._backlog:
            return self._backlog.popleft()
        async with asyncio.timeout(within):
            raw = await self.connection.recv()
        frame: Json = json.loads(raw)
        return frame

    async def recv_type(self, *types: str, within: float = 10) -> Json:
        """The next frame of one of ``types``; frames of other types stay for later reads."""
        return await self.recv_matching(lambda frame: frame["type"] in types, within)

    async def presence_of(self, username: str, within: float = 10) -> Json:
        """The next presence event about ``username``: a user may also see their own."""
        return await self.recv_matching(
            lambda frame: frame["type"] == "presence" and frame["user"]["username"] == username,
            within,
        )

    async def recv_matching(self, wanted: Callable[[Json], bool], within: float = 10) -> Json:
        """The next frame ``wanted`` accepts; the others stay for later reads."""
        skipped: list[Json] = []
        try:
            async with asyncio.timeout(within):
                while True:
                    frame = await self.recv(within)
                    if wanted(frame):
                        return frame
                    skipped.append(frame)
        finally:
            self._backlog.extendleft(reversed(skipped))

    async def subscribe(self, room_id: object, since_seq: int | None = None) -> Json:
        frame: Json = {"type": "subscribe", "room_id": str(room_id)}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        await self.send(frame)
        return await self.recv_type("subscribed", "error")

    async def messages(self, room_id: object, count: int, within: float = 20) -> list[Json]:
        """The next ``count`` ``message`` frames of a room (other frames are dropped)."""
        found: list[Json] = []
        async with asyncio.timeout(within):
            while len(found) < count:
                frame = await self.recv(within)
                if frame["type"] == "message" and frame["room_id"] == str(room_id):
                    found.append(frame["message"])
        return found

    async def no_frame(self, types: Iterable[str], within: float = 0.5) -> None:
        """Assert that no frame of ``types`` arrives within ``within`` seconds."""
        wanted = set(types)
        try:
            async with asyncio.timeout(within):
                while True:
                    frame = await self.recv(within)
                    assert frame["type"] not in wanted, frame
        except TimeoutError:
            return

    async def closed_with(self, within: float = 10) -> int | None:
        """Wait for the server to close the socket; return its close code."""
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.connection.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        self.opened.discard(self)
        await self.connection.close()
