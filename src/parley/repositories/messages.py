from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import ReturningUpdate

from parley.db.base import utcnow
from parley.db.message_record import MessageRecord, Sender, message_record
from parley.db.models import Membership, Message, MessageKind, Room
from parley.repositories.base import Repository
from parley.repositories.message_appends import MessageAppends, NewRow
from parley.repositories.message_rows import record_of, select_records

__all__ = ["MessageRepository", "NewMessage", "next_seq"]


def next_seq(room_id: uuid.UUID | BindParameter[uuid.UUID]) -> ReturningUpdate[int]:
    """The statement that takes the room's next seq. The increment locks the room's row until
    commit, which serialises concurrent senders: seqs are assigned in commit order, no gaps.
    Given the id itself (not a parameter), a session brings a ``Room`` it holds up to date."""
    return (
        update(Room)
        .where(Room.id == room_id)
        .values(last_seq=Room.last_seq + 1)
        .returning(Room.last_seq)
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """What a message carries before the room gives it a seq (made by the message factory)."""

    kind: MessageKind
    sender: Sender | None
    body: str
    attachment: dict[str, Any] | None = None
    client_id: str | None = None

    def stored(
        self, message_id: uuid.UUID, room_id: uuid.UUID, seq: int, created_at: datetime
    ) -> MessageRecord:
        """The message as just stored: all of it is in hand, nothing is read back."""
        return message_record(
            message_id=message_id,
            room_id=room_id,
            seq=seq,
            kind=self.kind,
            sender=self.sender,
            body=self.body,
            attachment=self.attachment,
            client_id=self.client_id,
            created_at=created_at,
        )

    @property
    def sender_id(self) -> uuid.UUID | None:
        return None if self.sender is None else self.sender["id"]


class MessageRepository(Repository[Message]):
    model = Message

    async def append(self, room_id: uuid.UUID, new: NewMessage) -> tuple[MessageRecord, bool]:
        """Store a message as the room's next seq; ``(message, created)``.

        A ``client_id`` already used by this sender in this room returns the first message
        and stores nothing. Incrementing ``rooms.last_seq`` locks the room row until commit,
        which serialises concurrent senders: seqs are assigned in commit order, no gaps.
        """
        if new.client_id is not None:
            existing = await self.by_client_id(room_id, new.sender_id, new.client_id)
            if existing is not None:
                return existing, False
        seq = await self._next_seq(room_id)
        message_id, created_at = uuid.uuid4(), utcnow()
        values = {
            "id": message_id,
            "room_id": room_id,
            "seq": seq,
            "kind": new.kind,
            "sender_id": new.sender_id,
            "body": new.body,
            "attachment": new.attachment,
            "client_id": new.client_id,
            "created_at": created_at,
        }
        # ON CONFLICT DO NOTHING: a concurrent send with the same client_id, which passed the
        # check above at the same moment, inserts nothing instead of failing the transaction.
        statement = self._insert().values(values).on_conflict_do_nothing().returning(Message.id)
        if await self.session.scalar(statement) is None:
            await self._release_seq(room_id)  # we hold the room's lock: nobody took seq + 1
            assert new.client_id is not None  # noqa: S101  (only client_id can conflict)
            existing = await self.by_client_id(room_id, new.sender_id, new.client_id)
            assert existing is not None  # noqa: S101
            return existing, False
        return new.stored(message_id, room_id, seq, created_at), True

    async def append_as_member(
        self,
        room_id: uuid.UUID,
        sender: Sender,
        new: NewMessage,
        appends: MessageAppends | None = None,
    ) -> tuple[MessageRecord, bool] | None:
        """``append`` for a sender who must be a member of the room; None if they are not.

        The hot path of chat. Given ``appends`` (PostgreSQL), the message is stored by one
        self-committing statement shared with the sends that arrived meanwhile
        (``MessageAppends``): membership, a ``client_id`` already used, the next
        seq and the insert, on a connection of its own beside a session that has begun
        nothing. Without it, or in a session already in a transaction, or for an attachment,
        it takes the ordinary path in the session's transaction; so does SQLite, in-process.
        """
        if appends is None or self.session.in_transaction() or new.attachment is not None:
            if not await self._is_member(room_id, sender["id"]):
                return None
            return await self.append(room_id, new)
        row = NewRow(
            room_id=room_id,
            id=uuid.uuid4(),
            sender_id=sender["id"],
            kind=new.kind.value,
            body=new.body,
            client_id=new.client_id,
            created_at=utcnow(),
        )
        try:
            seq = await appends.append(row)
        except IntegrityError:
            # The same client_id, sent twice at once: the statement failed whole (no seq was
            # taken) for the one that lost; it answers with the winner's message.
            seq = None
        if seq is not None:
            return new.stored(row.id, room_id, seq, row.created_at), True
        # Nothing stored: not a member, or a client_id already used. Rare; look which.
        if new.client_id is None or not await self._is_member(room_id, sender["id"]):
            return None
        existing = await self.by_client_id(room_id, sender["id"], new.client_id)
        return None if existing is None else (existing, False)

    async def _is_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        statement = select(
            exists().where(Membership.room_id == room_id, Membership.user_id == user_id)
        )
        return bool(await self.session.scalar(statement))

    async def by_client_id(
        self, room_id: uuid.UUID, sender_id: uuid.UUID | None, client_id: str
    ) -> MessageRecord | None:
        return await self._record(
            Message.room_id == room_id,
            Message.sender_id == sender_id,
            Message.client_id == client_id,
        )

    async def in_room(self, room_id: uuid.UUID, message_id: uuid.UUID) -> MessageRecord | None:
        return await self._record(Message.room_id == room_id, Message.id == message_id)

    async def edit(self, message_id: uuid.UUID, body: str, edited_at: datetime) -> None:
        await self._change(message_id, body=body, edited_at=edited_at)

    async def empty(self, message_id: uuid.UUID, deleted_at: datetime) -> None:
        """Delete the message: its row and seq stay, without its body and attachment."""
        await self._change(message_id, body="", attachment=None, deleted_at=deleted_at)

    async def _change(self, message_id: uuid.UUID, **values: object) -> None:
        # No ``Message`` objects are loaded in sessions (messages are read as records): no
        # identity map to bring up to date.
        statement = update(Message).where(Message.id == message_id).values(**values)
        await self.session.execute(statement, execution_options={"synchronize_session": False})

    async def _record(self, *where: ColumnElement[bool]) -> MessageRecord | None:
        row = (await self.session.execute(select_records().where(*where))).first()
        return None if row is None else record_of(row)

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        if self._dialect == "postgresql":
            return postgresql.insert(Message)
        return sqlite.insert(Message)

    async def _next_seq(self, room_id: uuid.UUID) -> int:
        seq = await self.session.scalar(next_seq(room_id))
        if seq is None:
            msg = f"room {room_id} does not exist"
            raise LookupError(msg)
        return seq

    async def _release_seq(self, room_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Room).where(Room.id == room_id).values(last_seq=Room.last_seq - 1)
        )
