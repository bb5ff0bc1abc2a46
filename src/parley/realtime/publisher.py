"""Turning what happened into frames on the broker; services call it after commit."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Literal

from parley.observability.metrics import Metrics
from parley.realtime.envelope import Outbound
from parley.realtime.frames import (
    MessageEventFrame,
    PresenceFrame,
    TypingEventFrame,
    UploadEventFrame,
)
from parley.realtime.history import message_event
from parley.realtime.hub import Hub
from parley.schemas.messages import MessageOut, SenderOut
from parley.schemas.uploads import UploadOut

__all__ = ["EventPublisher"]


class EventPublisher:
    def __init__(self, hub: Hub, metrics: Metrics) -> None:
        self._hub = hub
        self._metrics = metrics

    async def message_created(self, message: MessageOut) -> None:
        self._metrics.messages_stored.inc()
        event = replace(message_event(message), published_at=time.time())
        await self._hub.publish_to_room(message.room_id, event)

    async def message_changed(
        self, kind: Literal["message.edited", "message.deleted"], message: MessageOut
    ) -> None:
        frame = MessageEventFrame(type=kind, room_id=message.room_id, message=message)
        await self._hub.publish_to_room(message.room_id, Outbound(frame.model_dump_json()))

    async def typing(self, room_id: uuid.UUID, user: SenderOut) -> None:
        frame = TypingEventFrame(room_id=room_id, user=user)
        await self._hub.publish_to_room(
            room_id, Outbound(frame.model_dump_json(), exclude_user=user.id)
        )

    async def presence(
        self, room_id: uuid.UUID, user: SenderOut, status: Literal["online", "offline"]
    ) -> None:
        frame = PresenceFrame(room_id=room_id, user=user, status=status)
        await self._hub.publish_to_room(room_id, Outbound(frame.model_dump_json()))

    async def upload(self, user_id: uuid.UUID, upload: UploadOut) -> None:
        """An upload's status, to its uploader's sockets on every instance."""
        frame = UploadEventFrame(upload=upload)
        await self._hub.publish_to_user(user_id, Outbound(frame.model_dump_json()))
