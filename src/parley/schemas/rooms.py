from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from parley.schemas.base import ApiModel
from parley.schemas.users import UserOut

__all__ = [
    "AddMemberRequest",
    "DirectRoomRequest",
    "RoomCreate",
    "RoomDetail",
    "RoomOut",
    "RoomRename",
]

RoomName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RoomCreate(ApiModel):
    name: RoomName = Field(examples=["general"])
    is_private: bool = False


class RoomOut(ApiModel):
    id: uuid.UUID
    name: str
    kind: str = Field(description="`group`, or `direct` for a direct-message room")
    is_private: bool
    owner_id: uuid.UUID | None
    created_at: datetime
    last_seq: int = Field(description="The seq of the room's newest message (0 when empty)")


class RoomDetail(RoomOut):
    members: list[UserOut]


class AddMemberRequest(ApiModel):
    username: str = Field(max_length=64, examples=["bob"])


class DirectRoomRequest(ApiModel):
    username: str = Field(max_length=64, examples=["bob"])


class RoomRename(ApiModel):
    name: RoomName
