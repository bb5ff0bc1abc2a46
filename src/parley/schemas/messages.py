from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from parley.db.message_record import MessageRecord
from parley.db.models import MessageKind
from parley.schemas.base import ApiModel, StoredText
from parley.schemas.wire_json import wire_json

__all__ = [
    "MAX_BODY_LENGTH",
    "MAX_SEQ",
    "ClientId",
    "MessageBody",
    "MessageCreate",
    "MessageEdit",
    "MessageOut",
    "MessagePage",
    "SenderOut",
    "message_json",
    "message_page_json",
]

MAX_BODY_LENGTH = 4000
# Seqs are stored as INTEGER (two billion messages a room): a larger one cannot name a message,
# and would overflow the database driver.
MAX_SEQ = 2**31 - 1

MessageBody = Annotated[StoredText, StringConstraints(min_length=1, max_length=MAX_BODY_LENGTH)]
ClientId = Annotated[
    StoredText,
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


MESSAGE_EXAMPLE: JsonDict = {
    "id": "0c5e0f3a-8a43-4a39-9b0e-5d2b1c7f9a10",
    "room_id": "7f124599-fbf0-4622-9917-ecbe50897563",
    "seq": 17,
    "kind": "text",
    "sender": {
        "id": "4f0d591b-32cb-4baa-bfb8-25bc592c3ad8",
        "username": "alice",
        "display_name": "Alice",
    },
    "body": "Hello!",
    "attachment": None,
    "client_id": "c-42",
    "created_at": "2026-11-26T14:00:00Z",
    "edited_at": None,
    "deleted_at": None,
}


# A message on the wire, as the OpenAPI document describes it. Parley writes messages from
# their records (``MessageRecord``, ``message_json``) in this model's bytes, never through it.
class MessageOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MESSAGE_EXAMPLE]})

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


class MessagePage(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [MESSAGE_EXAMPLE], "has_more": True}]}
    )

    items: list[MessageOut] = Field(description="In ascending seq")
    has_more: bool = Field(description="Whether more messages lie beyond this page")


def message_json(message: MessageRecord) -> bytes:
    """``MessageOut``'s JSON, from a record (valid by construction), written by orjson
    without building the model; tests hold the two to the same bytes."""
    return wire_json(message)


def message_page_json(items: Sequence[MessageRecord], *, has_more: bool) -> bytes:
    """``MessagePage``'s JSON, from records read from the database (valid by construction),
    written by orjson without validating them again: a tenth of the CPU of building the
    models and dumping them, the largest part of a page's cost. Tests hold it to
    ``MessagePage``'s own JSON, byte for byte."""
    return wire_json({"items": items, "has_more": has_more})
