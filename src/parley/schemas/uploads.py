from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from parley.db.models import Upload, UploadStatus
from parley.schemas.base import ApiModel

__all__ = ["UploadAccepted", "UploadOut"]


class UploadAccepted(ApiModel):
    id: uuid.UUID
    status: UploadStatus
    status_url: str
    room_id: uuid.UUID
    filename: str
    content_type: str = Field(description="Decided from the file's content, not its name")
    size: int

    @classmethod
    def of(cls, upload: Upload) -> UploadAccepted:
        return cls(
            id=upload.id,
            status=upload.status,
            status_url=f"/api/uploads/{upload.id}",
            room_id=upload.room_id,
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
        )


class UploadOut(ApiModel):
    id: uuid.UUID
    status: UploadStatus
    error: str | None = None
    result: dict[str, Any] | None = Field(
        default=None,
        description='{"kind": "image", "width", "height", "thumbnail_url"}, '
        '{"kind": "pdf", "pages", "text_preview"} or '
        '{"kind": "text", "encoding", "lines", "text_preview"}',
    )
    room_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    file_url: str
    created_at: datetime

    @classmethod
    def of(cls, upload: Upload) -> UploadOut:
        return cls(
            id=upload.id,
            status=upload.status,
            error=upload.error,
            result=upload.result,
            room_id=upload.room_id,
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
            file_url=f"/api/uploads/{upload.id}/file",
            created_at=upload.created_at,
        )
