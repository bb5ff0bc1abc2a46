"""The WebSocket protocol's frames: what clients send (validated) and what the server sends."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from parley.db.message_record import MessageRecord
from parley.schemas.messages import MAX_SEQ, ClientId, MessageBody, MessageOut, SenderOut
from parley.schemas.rooms import RoomOut
from parley.schemas.uploads import UploadOut
from parley.schemas.users import UserOut
from parley.schemas.wire_json import wire_json

__all__ = [
    "AckFrame",
    "AuthFrame",
    "ClientFrame",
    "ErrorFrame",
    "MessageEventFrame",
    "MessageEventType",
    "PingFrame",
    "PongFrame",
    "PresenceFrame",
    "ReadyFrame",
    "RoomAddedFrame",
    "RoomRemovedFrame",
    "RoomUpdatedFrame",
    "SendFrame",
    "SubscribeFrame",
    "SubscribedFrame",
    "TypingEventFrame",
    "TypingFrame",
    "UnsubscribeFrame",
    "UnsubscribedFrame",
    "UploadEventFrame",
    "ack_frame",
    "client_frame",
    "message_frame",
]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- sent by clients ---------------------------------------------------------------


class AuthFrame(_Frame):
    type: Literal["auth"]
    token: str = Field(max_length=4096)


class SubscribeFrame(_Frame):
    type: Literal["subscribe"]
    room_id: uuid.UUID
    since_seq: int | None = Field(default=None, ge=0, le=MAX_SEQ)


class UnsubscribeFrame(_Frame):
    type: Literal["unsubscribe"]
    room_id: uuid.UUID


class SendFrame(_Frame):
    type: Literal["send"]
    room_id: uuid.UUID
    body: MessageBody
    client_id: ClientId


class TypingFrame(_Frame):
    type: Literal["typing"]
    room_id: uuid.UUID


class PingFrame(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[
    AuthFrame | SubscribeFrame | UnsubscribeFrame | SendFrame | TypingFrame | PingFrame,
    Field(discriminator="type"),
]
client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


# --- sent by the server ------------------------------------------------------------


class ReadyFrame(_Frame):
    type: Literal["ready"] = "ready"
    user: UserOut


class SubscribedFrame(_Frame):
    type: Literal["subscribed"] = "subscribed"
    room_id: uuid.UUID
    last_seq: int


class UnsubscribedFrame(_Frame):
    """Sent after an ``unsubscribe``, and unasked when the user left the room elsewhere."""

    type: Literal["unsubscribed"] = "unsubscribed"
    room_id: uuid.UUID
    reason: Literal["requested", "left"] = "requested"


class AckFrame(_Frame):
    """Written by ``ack_frame``, in this model's bytes."""

    type: Literal["ack"] = "ack"
    client_id: str
    message: MessageOut


MessageEventType = Literal["message", "message.edited", "message.deleted"]


class MessageEventFrame(_Frame):
    """``message``, ``message.edited`` and ``message.deleted``; written by ``message_frame``,
    in this model's bytes."""

    type: MessageEventType
    room_id: uuid.UUID
    message: MessageOut


def ack_frame(client_id: str, message: MessageRecord) -> str:
    """``AckFrame``'s JSON, written straight from the record, as ``message_frame``."""
    return wire_json({"type": "ack", "client_id": client_id, "message": message}).decode()


def message_frame(type_: MessageEventType, message: MessageRecord) -> str:
    """``MessageEventFrame``'s JSON, written straight from the record. This runs once per
    message (its event, each message of a catch-up), and building the model to dump it cost
    several times the writing; tests hold the two to the same bytes."""
    content = {"type": type_, "room_id": message["room_id"], "message": message}
    return wire_json(content).decode()


class TypingEventFrame(_Frame):
    type: Literal["typing"] = "typing"
    room_id: uuid.UUID
    user: SenderOut


class PresenceFrame(_Frame):
    type: Literal["presence"] = "presence"
    room_id: uuid.UUID
    user: SenderOut
    status: Literal["online", "offline"]


class UploadEventFrame(_Frame):
    type: Literal["upload"] = "upload"
    upload: UploadOut


# --- events for the user, on every socket of theirs (their user channel) -------------


class RoomAddedFrame(_Frame):
    """The user became a member: made the room, joined, was added, or a direct room opened."""

    type: Literal["room.added"] = "room.added"
    room: RoomOut


class RoomRemovedFrame(_Frame):
    """The user is a member no more."""

    type: Literal["room.removed"] = "room.removed"
    room_id: uuid.UUID


class RoomUpdatedFrame(_Frame):
    """A room of the user's changed (its name, its owner), to every member."""

    type: Literal["room.updated"] = "room.updated"
    room: RoomOut


class PongFrame(_Frame):
    type: Literal["pong"] = "pong"


class ErrorFrame(_Frame):
    type: Literal["error"] = "error"
    code: str = Field(
        description="bad_request, unauthorized, not_found, forbidden, rate_limited, too_large, "
        "or unavailable (the database is unreachable: retry)"
    )
    detail: str
    ref: str | None = None
