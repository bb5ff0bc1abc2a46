"""Reading a room's messages back as frames: for replays, gaps and reconnections."""

from __future__ import annotations

import uuid

from parley.db.engine import SessionFactory
from parley.db.message_record import MessageRecord
from parley.db.models import MessageKind
from parley.realtime.envelope import Outbound
from parley.realtime.frames import message_frame
from parley.repositories.message_pages import MessagePages
from parley.repositories.rooms import RoomRepository
from parley.schemas.system_events import SystemEvent

__all__ = ["History", "message_event"]

PAGE_SIZE = 200


def message_event(message: MessageRecord, published_at: float | None = None) -> Outbound:
    """The ``message`` frame, encoded once for every socket, with what the hub needs."""
    return Outbound(
        frame=message_frame("message", message),
        seq=message["seq"],
        departing_user=_departing(message),
        published_at=published_at,
    )


# The system messages that end their user's membership: that user's subscriptions to the room
# end with them, on every instance (a removal by another member belongs here too).
_ENDS_MEMBERSHIP = frozenset({SystemEvent.LEFT})


def _departing(message: MessageRecord) -> uuid.UUID | None:
    """The user whose membership the message ends, whose sockets must stop there."""
    attachment = message["attachment"] or {}
    if message["kind"] is not MessageKind.SYSTEM or attachment.get("event") not in _ENDS_MEMBERSHIP:
        return None
    return uuid.UUID(attachment["user"]["id"])


class History:
    def __init__(self, session_factory: SessionFactory, pages: MessagePages) -> None:
        self._session_factory = session_factory
        self._pages = pages

    async def after(
        self, room_id: uuid.UUID, after_seq: int, limit: int = PAGE_SIZE
    ) -> list[Outbound]:
        messages = await self._pages.after(room_id, after_seq, limit)
        return [message_event(message) for message in messages]

    async def last_seq(self, room_id: uuid.UUID) -> int:
        async with self._session_factory() as session:
            return (await RoomRepository(session).last_seqs([room_id])).get(room_id, 0)

    async def last_seq_if_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
        """Where the room stands if the user is a member of it; None if not (any more)."""
        async with self._session_factory() as session:
            return await RoomRepository(session).last_seq_if_member(room_id, user_id)

    async def last_seqs(self, room_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        async with self._session_factory() as session:
            return await RoomRepository(session).last_seqs(room_ids)
