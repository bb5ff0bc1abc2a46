from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.db.base import Base, IdMixin, JsonDocument, utcnow
from parley.db.types import string_enum

__all__ = ["Upload", "UploadStatus"]


class UploadStatus(StrEnum):
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class Upload(IdMixin, Base):
    __tablename__ = "uploads"
    __table_args__ = (
        # The sweeper looks for uploads still processing long after they were made.
        Index("ix_uploads_status_created_at", "status", "created_at"),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    uploader_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # The client's name, for display only: storage never uses it.
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[UploadStatus] = mapped_column(
        string_enum(UploadStatus, "upload_status"), default=UploadStatus.PROCESSING
    )
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    # The job's bookkeeping, kept here because Redis may forget the queue: when the job was
    # last enqueued (the sweeper re-enqueues stale ones), how often a worker took it up, and
    # until when the worker that holds it may work on it undisturbed.
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
