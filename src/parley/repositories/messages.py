from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from parley.db.base import utcnow
from parley.db.models import Message, MessageKind, Room, User
from parley.repositories.base import Repository

__all__ = ["MessageRepository", "NewMessage"]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """What a message carries before the room gives it a seq (made by the message factory)."""

    kind: MessageKind
    sender: User | None
    body: str
    attachment: dict[str, Any] | None = None
    client_id: str | None = None


class MessageRepository(Repository[Message]):
    model = Message

    async def append(self, room_id: uuid.UUID, new: NewMessage) -> tuple[Message, bool]:
        """Store a message as the room's next seq; ``(message, created)``.

        A ``client_id`` already used by this sender in this room returns the first message
        and stores nothing. Incrementing ``rooms.last_seq`` locks the room row until commit,
        which serialises concurrent senders: seqs are assigned in commit order, no gaps.
        """
        if new.client_id is not None:
            existing = await self.by_client_id(room_id, new.sender, new.client_id)
            if existing is not None:
                return existing, False
        seq = await self._next_seq(room_id)
        values = {
            "id": uuid.uuid4(),
            "room_id": room_id,
            "seq": seq,
            "kind": new.kind,
            "sender_id": new.sender.id if new.sender else None,
            "body": new.body,
            "attachment": new.attachment,
            "client_id": new.client_id,
            "created_at": utcnow(),
        }
        # ON CONFLICT DO NOTHING: a concurrent send with the same client_id, which passed the
        # check above at the same moment, inserts nothing instead of failing the transaction.
        statement = self._insert().values(values).on_conflict_do_nothing().returning(Message)
        message = (await self.session.scalars(statement)).one_or_none()
        if message is None:
            await self._release_seq(room_id)  # we hold the room's lock: nobody took seq + 1
            assert new.client_id is not None  # noqa: S101  (only client_id can conflict)
            existing = await self.by_client_id(room_id, new.sender, new.client_id)
            assert existing is not None  # noqa: S101
            return existing, False
        set_committed_value(message, "sender", new.sender)
        return message, True

    async def by_client_id(
        self, room_id: uuid.UUID, sender: User | None, client_id: str
    ) -> Message | None:
        statement = (
            select(Message)
            .options(joinedload(Message.sender))
            .where(
                Message.room_id == room_id,
                Message.sender_id == (sender.id if sender else None),
                Message.client_id == client_id,
            )
        )
        return await self.session.scalar(statement)

    async def in_room(self, room_id: uuid.UUID, message_id: uuid.UUID) -> Message | None:
        statement = (
            select(Message)
            .options(joinedload(Message.sender))
            .where(Message.room_id == room_id, Message.id == message_id)
        )
        return await self.session.scalar(statement)

    async def after(self, room_id: uuid.UUID, after_seq: int, limit: int) -> Sequence[Message]:
        """Messages with seq > ``after_seq``, ascending, at most ``limit``."""
        statement = (
            select(Message)
            .options(joinedload(Message.sender))
            .where(Message.room_id == room_id, Message.seq > after_seq)
            .order_by(Message.seq)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def before(
        self, room_id: uuid.UUID, before_seq: int | None, limit: int
    ) -> Sequence[Message]:
        """The ``limit`` messages just below ``before_seq`` (the newest when None), ascending."""
        statement = (
            select(Message)
            .options(joinedload(Message.sender))
            .where(Message.room_id == room_id)
            .order_by(Message.seq.desc())
            .limit(limit)
        )
        if before_seq is not None:
            statement = statement.where(Message.seq < before_seq)
        newest_first = (await self.session.scalars(statement)).all()
        return newest_first[::-1]

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(Message)
        return sqlite.insert(Message)

    async def _next_seq(self, room_id: uuid.UUID) -> int:
        statement = (
            update(Room)
            .where(Room.id == room_id)
            .values(last_seq=Room.last_seq + 1)
            .returning(Room.last_seq)
        )
        seq = await self.session.scalar(statement)
        if seq is None:
            msg = f"room {room_id} does not exist"
            raise LookupError(msg)
        return seq

    async def _release_seq(self, room_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Room).where(Room.id == room_id).values(last_seq=Room.last_seq - 1)
        )
