from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parley.db.base import Base, IdMixin, JsonDocument, utcnow
from parley.db.models.user import User
from parley.db.types import string_enum

__all__ = ["Message", "MessageKind"]


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FILE = "file"
    SYSTEM = "system"


class Message(IdMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        # The room's order: history pages and since_seq replays walk this index.
        UniqueConstraint("room_id", "seq"),
        # Idempotent sends: one message per (room, sender, client_id).
        Index(
            "uq_messages_room_id_sender_id_client_id",
            "room_id",
            "sender_id",
            "client_id",
            unique=True,
        ),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[MessageKind] = mapped_column(string_enum(MessageKind, "message_kind"))
    sender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, default="")
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    # A deleted message keeps its row and seq (seq has no gaps), without its body.
    deleted_at: Mapped[datetime | None]

    sender: Mapped[User | None] = relationship(lazy="raise")
