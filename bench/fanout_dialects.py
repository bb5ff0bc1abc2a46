"""How the fan-out clients speak to each target, over one and the same WebSocket client.

Every target is driven by the ``websockets`` asyncio client, so the clients' own cost is
the same whoever they talk to; only the framing differs, and a dialect is that framing:
how to sign in and subscribe, how a send and its acknowledgement look, and which frames
are deliveries. Parley and the floor share Parley's JSON frames. Socket.IO is spoken by
hand: Engine.IO's open packet ``0{…}``, ``40`` to connect the namespace, ``42[…]`` events,
``42<id>[…]``/``43<id>[…]`` for acknowledged ones, and ``3`` to answer each ping ``2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Data

__all__ = [
    "DIALECTS",
    "Delivery",
    "Dialect",
    "JsonDialect",
    "SocketIODialect",
    "TargetRefused",
    "open_socket",
]

# Thousands of sockets opening on a busy machine queue up behind each other.
OPEN_TIMEOUT_SECONDS = 60


class TargetRefused(Exception):
    """The target answered signing in or subscribing with something else than a yes."""


@dataclass(frozen=True, slots=True)
class Delivery:
    body: str
    seq: int | None  # only Parley numbers its messages


class Dialect(Protocol):
    def url(self, base: str) -> str:
        """The WebSocket URL at ``base`` (``ws://host:port``)."""

    async def sign_in(self, socket: ClientConnection, credential: str) -> None: ...

    async def subscribe(self, socket: ClientConnection, room: str) -> None: ...

    def send_frame(self, room: str, body: str, ref: int) -> str: ...

    def acknowledged(self, frame: Data) -> int | None:
        """The ``ref`` of the send this frame acknowledges, if it is an acknowledgement."""

    def delivery(self, frame: Data) -> Delivery | None: ...

    def answer(self, frame: Data) -> str | None:
        """What the protocol requires the client to answer to this frame, if anything."""


async def _next_frame(socket: ClientConnection, dialect: Dialect) -> Data:
    """The next frame that needs no protocol answer (those are answered on the way)."""
    while True:
        frame = await socket.recv()
        answer = dialect.answer(frame)
        if answer is None:
            return frame
        await socket.send(answer)


class JsonDialect:
    """Parley's frames; the floor answers the same ones."""

    def url(self, base: str) -> str:
        return f"{base}/ws"

    async def sign_in(self, socket: ClientConnection, credential: str) -> None:
        await socket.send(orjson.dumps({"type": "auth", "token": credential}).decode())
        await self._expect(socket, "ready")

    async def subscribe(self, socket: ClientConnection, room: str) -> None:
        await socket.send(orjson.dumps({"type": "subscribe", "room_id": room}).decode())
        await self._expect(socket, "subscribed")

    async def _expect(self, socket: ClientConnection, wanted: str) -> None:
        while True:
            frame = orjson.loads(await _next_frame(socket, self))
            if frame["type"] == wanted:
                return
            if frame["type"] == "error":
                raise TargetRefused(f"wanted {wanted!r}, got {frame}")
            # Anything else (a presence event) is not what this waits for: pass it by.

    def send_frame(self, room: str, body: str, ref: int) -> str:
        frame = {"type": "send", "room_id": room, "body": body, "client_id": str(ref)}
        return orjson.dumps(frame).decode()

    def acknowledged(self, frame: Data) -> int | None:
        parsed = orjson.loads(frame)
        return int(parsed["client_id"]) if parsed["type"] == "ack" else None

    def delivery(self, frame: Data) -> Delivery | None:
        parsed = orjson.loads(frame)
        if parsed["type"] != "message":
            return None
        message = parsed["message"]
        return Delivery(message["body"], message.get("seq"))

    def answer(self, frame: Data) -> str | None:
        return None


class SocketIODialect:
    """Socket.IO 5 over Engine.IO 4, on the WebSocket transport from the start."""

    _EVENT = "42"
    _ACK = "43"
    _MESSAGE_EVENT = '42["message",'
    # The id of the one acknowledged ``subscribe``; sends count from 1.
    _SUBSCRIBE_REF = 0

    def url(self, base: str) -> str:
        return f"{base}/socket.io/?EIO=4&transport=websocket"

    async def sign_in(self, socket: ClientConnection, credential: str) -> None:
        opening = await socket.recv()
        if not isinstance(opening, str) or not opening.startswith("0{"):
            raise TargetRefused(f"no Engine.IO open packet: {opening!r}")
        await socket.send("40" + orjson.dumps({"token": credential}).decode())
        connected = await _next_frame(socket, self)
        if not isinstance(connected, str) or not connected.startswith("40"):
            raise TargetRefused(f"namespace not connected: {connected!r}")

    async def subscribe(self, socket: ClientConnection, room: str) -> None:
        await socket.send(self._event("subscribe", room, self._SUBSCRIBE_REF))
        while self.acknowledged(await _next_frame(socket, self)) != self._SUBSCRIBE_REF:
            pass

    def send_frame(self, room: str, body: str, ref: int) -> str:
        return self._event("send", {"room": room, "body": body}, ref)

    def _event(self, name: str, data: object, ref: int) -> str:
        return f"{self._EVENT}{ref}{orjson.dumps([name, data]).decode()}"

    def acknowledged(self, frame: Data) -> int | None:
        if not isinstance(frame, str) or not frame.startswith(self._ACK):
            return None
        return int(frame[len(self._ACK) : frame.index("[")])

    def delivery(self, frame: Data) -> Delivery | None:
        if not isinstance(frame, str) or not frame.startswith(self._MESSAGE_EVENT):
            return None
        _, data = orjson.loads(frame[len(self._EVENT) :])
        return Delivery(data["body"], None)

    def answer(self, frame: Data) -> str | None:
        return "3" if frame == "2" else None


# By name, so that a receiver process can be told which one to speak.
DIALECTS: dict[str, Dialect] = {"json": JsonDialect(), "socketio": SocketIODialect()}


async def open_socket(
    url: str, dialect: Dialect, credential: str, *, offer_compression: bool
) -> ClientConnection:
    """A signed-in socket of the one client every target gets.

    Like a browser it sends no pings of its own (it answers the server's). Whether it offers
    permessage-deflate is the caller's choice, and the server then decides. The fan-out's
    clients do not offer it: its frames are small, and a server compressing every delivery
    would pay for what the floor is there to show fan-out need not cost. Idle sockets are
    opened as a browser would, offering it, as the issue asks.
    """
    socket = await connect(
        url,
        compression="deflate" if offer_compression else None,
        ping_interval=None,
        open_timeout=OPEN_TIMEOUT_SECONDS,
    )
    await dialect.sign_in(socket, credential)
    return socket
