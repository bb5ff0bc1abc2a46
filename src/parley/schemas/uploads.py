from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from parley.db.models import Upload, UploadStatus
from parley.schemas.base import ApiModel

__all__ = ["UploadAccepted", "UploadOut"]

_ID = "a2c3e4f5-0000-4000-8000-000000000001"


class UploadAccepted(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "status": "processing",
                    "status_url": f"/api/uploads/{_ID}",
                    "room_id": "7f124599-fbf0-4622-9917-ecbe50897563",
                    "filename": "holiday.jpg",
                    "content_type": "image/jpeg",
                    "size": 2481233,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "status": "done",
                    "error": None,
                    "result": {
                        "kind": "image",
                        "width": 4032,
                        "height": 3024,
                        "thumbnail_url": f"/api/uploads/{_ID}/thumbnail",
                    },
                    "room_id": "7f124599-fbf0-4622-9917-ecbe50897563",
                    "filename": "holiday.jpg",
                    "content_type": "image/jpeg",
                    "size": 2481233,
                    "file_url": f"/api/uploads/{_ID}/file",
                    "created_at": "2026-11-26T14:00:00Z",
                }
            ]
        }
    )

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
