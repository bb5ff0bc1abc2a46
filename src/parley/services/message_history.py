"""A member reading back a room's messages, a page at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from parley.core.errors import NotFound
from parley.db.engine import SessionFactory
from parley.db.message_record import MessageRecord
from parley.repositories.message_pages import MessagePages
from parley.repositories.rooms import RoomRepository

__all__ = ["MessageHistory", "Page"]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[MessageRecord]  # ascending by seq
    has_more: bool


class MessageHistory:
    def __init__(self, pages: MessagePages, read_sessions: SessionFactory) -> None:
        self._pages = pages
        self._read_sessions = read_sessions

    async def page(
        self,
        user_id: uuid.UUID,
        room_id: uuid.UUID,
        *,
        after_seq: int | None,
        before_seq: int | None,
        limit: int,
    ) -> Page:
        """With ``after_seq``, the oldest messages after it; otherwise the newest before
        ``before_seq`` (or the newest of all). ``NotFound`` unless the user is a member."""
        # Membership is checked by the page query itself; only an empty page needs to know
        # whether it is empty or not this user's to read.
        if after_seq is not None:
            rows = await self._pages.after(room_id, after_seq, limit + 1, member_id=user_id)
            page = Page(rows[:limit], has_more=len(rows) > limit)
        else:
            rows = await self._pages.before(room_id, before_seq, limit + 1, member_id=user_id)
            # One row more than asked, ascending: the oldest is there only to tell has_more.
            page = Page(rows[-limit:], has_more=len(rows) > limit)
        if not rows:
            async with self._read_sessions() as session:
                if await RoomRepository(session).visible_to(room_id, user_id) is None:
                    raise NotFound("No such room.")
        return page
