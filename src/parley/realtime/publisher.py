"""Turning what happened into frames on the broker; services call it after commit."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Literal

from parley.db.message_record import MessageRecord
from parley.observability.metrics import Metrics
from parley.realtime.channels import ChannelPublisher
from parley.realtime.envelope import Outbound
from parley.realtime.frames import (
    PresenceFrame,
    RoomAddedFrame,
    RoomRemovedFrame,
    RoomUpdatedFrame,
    TypingEventFrame,
    UploadEventFrame,
    message_frame,
)
from parley.realtime.history import message_event
from parley.schemas.messages import SenderOut
from parley.schemas.rooms import RoomOut
from parley.schemas.uploads import UploadOut

__all__ = ["EventPublisher"]

# Members told of a room's change between two turns of the event loop (see ``room_updated``).
_MEMBERS_PER_TURN = 500


class EventPublisher:
    def __init__(self, channels: ChannelPublisher, metrics: Metrics) -> None:
        self._channels = channels
        self._metrics = metrics

    async def message_created(self, message: MessageRecord) -> None:
        self._metrics.messages_stored.inc()
        event = message_event(message, published_at=time.time())
        await self._channels.to_room(message["room_id"], event)

    async def message_changed(
        self, kind: Literal["message.edited", "message.deleted"], message: MessageRecord
    ) -> None:
        frame = message_frame(kind, message)
        await self._channels.to_room(message["room_id"], Outbound(frame))

    async def typing(self, room_id: uuid.UUID, user: SenderOut) -> None:
        frame = TypingEventFrame(room_id=room_id, user=user)
        await self._channels.to_room(
            room_id, Outbound(frame.model_dump_json(), exclude_user=user.id)
        )

    async def presence(
        self, room_id: uuid.UUID, user: SenderOut, status: Literal["online", "offline"]
    ) -> None:
        frame = PresenceFrame(room_id=room_id, user=user, status=status)
        await self._channels.to_room(room_id, Outbound(frame.model_dump_json()))

    async def upload(self, user_id: uuid.UUID, upload: UploadOut) -> None:
        """An upload's status, to its uploader's sockets on every instance."""
        frame = UploadEventFrame(upload=upload)
        await self._channels.to_user(user_id, Outbound(frame.model_dump_json()))

    # --- events for the user: their user channel reaches every socket of theirs -------

    async def room_added(self, user_id: uuid.UUID, room: RoomOut) -> None:
        frame = RoomAddedFrame(room=room)
        await self._channels.to_user(user_id, Outbound(frame.model_dump_json()))

    async def room_removed(self, user_id: uuid.UUID, room_id: uuid.UUID) -> None:
        frame = RoomRemovedFrame(room_id=room_id)
        await self._channels.to_user(user_id, Outbound(frame.model_dump_json()))

    async def room_updated(self, member_ids: Iterable[uuid.UUID], room: RoomOut) -> None:
        """To each member's user channel, the frame encoded once for them all. An instance
        hears only of its own sockets' users, and a member connected nowhere costs Redis one
        publish to a channel nobody listens to. A publish never waits, so a big room would hold
        the event loop for the whole loop (about 5 µs a member): it lets the other sockets' work
        in every ``_MEMBERS_PER_TURN``."""
        event = Outbound(RoomUpdatedFrame(room=room).model_dump_json())
        for count, member_id in enumerate(member_ids, start=1):
            await self._channels.to_user(member_id, event)
            if count % _MEMBERS_PER_TURN == 0:
                await asyncio.sleep(0)
