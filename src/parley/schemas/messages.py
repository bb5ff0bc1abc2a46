from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from parley.db.models import Message, MessageKind
from parley.schemas.base import ApiModel

__all__ = [
    "MAX_BODY_LENGTH",
    "ClientId",
    "MessageBody",
    "MessageCreate",
    "MessageEdit",
    "MessageOut",
    "MessagePage",
    "SenderOut",
]

MAX_BODY_LENGTH = 4000

MessageBody = Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY_LENGTH)]
ClientId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="The client's id for this message; sending it again is a no-op"),
]


class MessageCreate(ApiModel):
    body: MessageBody = Field(examples=["Hello!"])
    client_id: ClientId | None = None


class MessageEdit(ApiModel):
    body: MessageBody


class SenderOut(ApiModel):
    id: uuid.UUID
    username: str
    display_name: str


class MessageOut(ApiModel):
    id: uuid.UUID
    room_id: uuid.UUID
    seq: int
    kind: MessageKind
    sender: SenderOut | None
    body: str
    attachment: dict[str, Any] | None
    client_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None = Field(
        description="Set when the message was deleted; its body and attachment are then empty"
    )

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls.model_validate(message)


class MessagePage(ApiModel):
    items: list[MessageOut] = Field(description="In ascending seq")
    has_more: bool = Field(description="Whether more messages lie beyond this page")
