"""Posting, reading, editing and deleting messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from parley.core.errors import Forbidden, NotFound
from parley.db.message_record import MessageRecord, sender_of
from parley.db.models import MessageKind, Room, User
from parley.db.unit_of_work import UnitOfWork
from parley.realtime.publisher import EventPublisher
from parley.repositories.message_appends import MessageAppends
from parley.repositories.messages import MessageRepository, NewMessage
from parley.repositories.rooms import RoomRepository
from parley.services.message_factory import MessageFactory

__all__ = ["MessageService", "Posted"]


@dataclass(frozen=True, slots=True)
class Posted:
    message: MessageRecord
    created: bool


class MessageService:
    def __init__(
        self, uow: UnitOfWork, events: EventPublisher, appends: MessageAppends | None = None
    ) -> None:
        """``appends``: the process's batched store of sends (PostgreSQL), for ``post``."""
        self._uow = uow
        self._appends = appends
        self._rooms = RoomRepository(uow.session)
        self._messages = MessageRepository(uow.session)
        self._events = events

    async def post(
        self, user: User, room_id: uuid.UUID, body: str, client_id: str | None
    ) -> Posted:
        sender = sender_of(user)
        new = MessageFactory.text(sender, body, client_id)
        appended = await self._messages.append_as_member(room_id, sender, new, self._appends)
        if appended is None:
            raise NotFound("No such room.")
        message, created = appended
        return self._announce(message, created=created)

    async def append(self, room_id: uuid.UUID, new: NewMessage) -> Posted:
        """Store a message (any kind) and announce it once committed."""
        message, created = await self._messages.append(room_id, new)
        return self._announce(message, created=created)

    def _announce(self, message: MessageRecord, *, created: bool) -> Posted:
        if created:
            self._uow.after_commit(partial(self._events.message_created, message))
        return Posted(message, created)

    async def edit(
        self, user: User, room_id: uuid.UUID, message_id: uuid.UUID, body: str
    ) -> MessageRecord:
        await self._room_of_member(room_id, user.id)
        message = await self._live_message(room_id, message_id)
        if _sender_id(message) != user.id or message["kind"] is not MessageKind.TEXT:
            raise Forbidden("Only the sender may edit a message, and only a text message.")
        edited_at = datetime.now(UTC)
        await self._messages.edit(message["id"], body, edited_at)
        edited: MessageRecord = {**message, "body": body, "edited_at": edited_at}
        self._uow.after_commit(partial(self._events.message_changed, "message.edited", edited))
        return edited

    async def delete(self, user: User, room_id: uuid.UUID, message_id: uuid.UUID) -> None:
        room = await self._room_of_member(room_id, user.id)
        message = await self._live_message(room_id, message_id)
        if user.id not in {_sender_id(message), room.owner_id}:
            raise Forbidden("Only the sender or the room's owner may delete a message.")
        # The row stays, emptied: seq has no gaps, and clients learn what was removed.
        deleted_at = datetime.now(UTC)
        await self._messages.empty(message["id"], deleted_at)
        deleted: MessageRecord = {
            **message,
            "body": "",
            "attachment": None,
            "deleted_at": deleted_at,
        }
        self._uow.after_commit(partial(self._events.message_changed, "message.deleted", deleted))

    async def _room_of_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> Room:
        room = await self._rooms.visible_to(room_id, user_id)
        if room is None:
            raise NotFound("No such room.")
        return room

    async def _live_message(self, room_id: uuid.UUID, message_id: uuid.UUID) -> MessageRecord:
        message = await self._messages.in_room(room_id, message_id)
        if message is None or message["deleted_at"] is not None:
            raise NotFound("No such message.")
        return message


def _sender_id(message: MessageRecord) -> uuid.UUID | None:
    sender = message["sender"]
    return None if sender is None else sender["id"]
