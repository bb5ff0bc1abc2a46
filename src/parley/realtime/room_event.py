"""An event of one room on this instance, made once by the hub for all its subscriptions."""

from __future__ import annotations

import uuid

from parley.realtime.direct_write import text_frame
from parley.realtime.envelope import Outbound

__all__ = ["RoomEvent"]


class RoomEvent:
    """One event of a room, in the room's order, handed to every subscription of the room:
    nothing in it is made per socket."""

    __slots__ = ("_wire", "event", "room_id")

    def __init__(self, room_id: uuid.UUID, event: Outbound) -> None:
        self.room_id = room_id
        self.event = event
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The event's WebSocket frame, encoded once for every socket written directly."""
        if self._wire is None:
            self._wire = text_frame(self.event.frame)
        return self._wire
