from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from parley.schemas.base import ApiModel, StoredText
from parley.schemas.users import USER_EXAMPLE, UserOut

__all__ = [
    "AddMemberRequest",
    "DirectRoomRequest",
    "RoomCreate",
    "RoomDetail",
    "RoomOut",
    "RoomRename",
]

RoomName = Annotated[
    StoredText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class RoomCreate(ApiModel):
    name: RoomName = Field(examples=["general"])
    is_private: bool = False


ROOM_EXAMPLE: JsonDict = {
    "id": "7f124599-fbf0-4622-9917-ecbe50897563",
    "name": "general",
    "kind": "group",
    "is_private": False,
    "owner_id": "4f0d591b-32cb-4baa-bfb8-25bc592c3ad8",
    "created_at": "2026-11-26T14:00:00Z",
    "last_seq": 17,
}


class RoomOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ROOM_EXAMPLE]})

    id: uuid.UUID
    name: str
    kind: str = Field(description="`group`, or `direct` for a direct-message room")
    is_private: bool
    owner_id: uuid.UUID | None
    created_at: datetime
    last_seq: int = Field(description="The seq of the room's newest message (0 when empty)")


class RoomDetail(RoomOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**ROOM_EXAMPLE, "members": [USER_EXAMPLE]}]}
    )

    members: list[UserOut]


class AddMemberRequest(ApiModel):
    username: str = Field(max_length=64, examples=["bob"])


class DirectRoomRequest(ApiModel):
    username: str = Field(max_length=64, examples=["bob"])


class RoomRename(ApiModel):
    name: RoomName
