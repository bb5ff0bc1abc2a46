"""Stand-ins for the two ends of a socket's delivery: the room's stored messages (in place of
``History``) and the client's socket, as the server writes to it."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from parley.realtime.envelope import Outbound
from parley.realtime.history import History

__all__ = ["Socket", "StoredRoom", "frame_payload", "message_event"]


def message_event(seq: int) -> Outbound:
    return Outbound(frame=json.dumps({"type": "message", "seq": seq}), seq=seq)


class StoredRoom(History):
    """The messages of one room, 1 to ``last``, as the database would hold them; every user
    is a member but the ``former_members``."""

    def __init__(self, last: int) -> None:  # no session factory: nothing is read from SQL
        self.last = last
        self.reads = 0
        self.former_members: set[uuid.UUID] = set()

    async def after(self, room_id: uuid.UUID, after_seq: int, limit: int = 200) -> list[Outbound]:
        self.reads += 1
        return [
            message_event(seq)
            for seq in range(after_seq + 1, min(self.last, after_seq + limit) + 1)
        ]

    async def last_seq(self, room_id: uuid.UUID) -> int:
        return self.last

    async def last_seq_if_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
        return None if user_id in self.former_members else self.last

    async def last_seqs(self, room_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """What the hub's reconciliation reads, every few seconds."""
        return dict.fromkeys(room_ids, self.last)


class Socket:
    """A client's socket, as the server writes to it: through the ASGI ``send`` or, when
    ``direct``, first through a ``write_now`` like ``parley serve``'s. It records the frames
    it got and by which way, and has a gate to stall it (a client that stopped reading)."""

    def __init__(self, *, direct: bool) -> None:
        self.direct = direct
        self.frames: list[dict[str, Any]] = []
        self.written_now = 0
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.open.wait()
        self.frames.append(json.loads(message["text"]))

    def write_now(self, frame: bytes) -> bool:
        if not self.open.is_set():
            return False  # as a transport that stopped taking more
        self.frames.append(json.loads(frame_payload(frame)))
        self.written_now += 1
        return True

    def seqs(self) -> list[int]:
        return [frame["seq"] for frame in self.frames if frame["type"] == "message"]

    def types(self) -> list[str]:
        return [frame["type"] for frame in self.frames]


def frame_payload(frame: bytes) -> bytes:
    """The payload of one unmasked WebSocket text frame."""
    assert frame[0] == 0x81, "a final text frame"
    length = frame[1] & 0x7F
    start = {126: 4, 127: 10}.get(length, 2)
    return frame[start:]
