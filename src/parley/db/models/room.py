from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.db.base import Base, IdMixin, utcnow
from parley.db.types import string_enum

__all__ = ["Room", "RoomKind"]


class RoomKind(StrEnum):
    GROUP = "group"
    DIRECT = "direct"


class Room(IdMixin, Base):
    __tablename__ = "rooms"

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[RoomKind] = mapped_column(
        string_enum(RoomKind, "room_kind"), default=RoomKind.GROUP
    )
    is_private: Mapped[bool] = mapped_column(default=False, index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # For a direct room, the two user ids in order: a unique key that makes the room of a
    # pair exist once, whichever instance creates it first.
    direct_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    # The seq of the newest message. Incrementing it takes the room row's lock, which is
    # what serialises concurrent senders and keeps seq gapless.
    last_seq: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
