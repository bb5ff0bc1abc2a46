from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import Select, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import BindParameter

from parley.db.base import utcnow
from parley.db.models import Membership, Message, MessageKind, Room, User
from parley.repositories.base import Repository
from parley.repositories.message_appends import MessageAppends, NewRow

__all__ = ["MessageRecord", "MessageRepository", "NewMessage"]

# Pages of history are read as plain rows, not ORM objects: a page is 50 to 200 messages,
# only ever turned into JSON, and identity-mapped objects cost several times as much.
MessageRecord: TypeAlias = dict[str, Any]


@functools.cache
def _page_query(*, ascending: bool, bounded: bool, checked: bool) -> Select[tuple[Any, ...]]:
    """A page of history: messages of ``:room_id`` after ``:after_seq`` (ascending) or before
    ``:before_seq`` (descending; ``bounded`` or not), at most ``:limit``; ``checked``, none
    unless ``:member_id`` is a member. Built once per shape with bound parameters: building
    a statement cost more CPU than PostgreSQL spends running it."""
    room_id: BindParameter[Any] = bindparam("room_id")
    statement = (
        select(
            Message.id,
            Message.room_id,
            Message.seq,
            Message.kind,
            Message.body,
            Message.attachment,
            Message.client_id,
            Message.created_at,
            Message.edited_at,
            Message.deleted_at,
            User.id.label("sender_id"),
            User.username.label("sender_username"),
            User.display_name.label("sender_display_name"),
        )
        .outerjoin(User, User.id == Message.sender_id)
        .where(Message.room_id == room_id)
        .limit(bindparam("limit"))
    )
    if checked:
        statement = statement.where(
            exists().where(
                Membership.room_id == room_id, Membership.user_id == bindparam("member_id")
            )
        )
    if ascending:
        return statement.where(Message.seq > bindparam("after_seq")).order_by(Message.seq)
    if bounded:
        statement = statement.where(Message.seq < bindparam("before_seq"))
    return statement.order_by(Message.seq.desc())


def _records(
    session: Session, statement: Select[tuple[Any, ...]], parameters: dict[str, Any]
) -> list[MessageRecord]:
    """Run a page query on the session's connection (through ``AsyncSession.run_sync``: one
    trip through the greenlet bridge, and Core rows instead of the ORM's result machinery,
    together about a third of a page's CPU)."""
    return [_record(row) for row in session.connection().execute(statement, parameters)]


def _record(row: Sequence[Any]) -> MessageRecord:
    """A message in the shape of ``MessageOut``, from a row of ``_page_query``."""
    (
        id_,
        room_id,
        seq,
        kind,
        body,
        attachment,
        client_id,
        created_at,
        edited_at,
        deleted_at,
        sender_id,
        sender_username,
        sender_display_name,
    ) = row
    sender = (
        None
        if sender_id is None
        else {"id": sender_id, "username": sender_username, "display_name": sender_display_name}
    )
    return {
        "id": id_,
        "room_id": room_id,
        "seq": seq,
        "kind": kind,
        "sender": sender,
        "body": body,
        "attachment": attachment,
        "client_id": client_id,
        "created_at": created_at,
        "edited_at": edited_at,
        "deleted_at": deleted_at,
    }


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

    async def append_as_member(
        self,
        room_id: uuid.UUID,
        sender: User,
        new: NewMessage,
        appends: MessageAppends | None = None,
    ) -> tuple[Message | MessageRecord, bool] | None:
        """``append`` for a sender who must be a member of the room; None if they are not.

        The hot path of chat. Given ``appends`` (PostgreSQL), the message is stored by one
        self-committing statement shared with the sends that arrived meanwhile
        (``MessageAppends``): membership, a ``client_id`` already used, the next
        seq and the insert, on a connection of its own beside a session that has begun
        nothing; it answers with a record rather than an ORM object. Without it, or in a
        session already in a transaction, or for an attachment, it takes the ordinary path
        in the session's transaction; so does SQLite, in-process.
        """
        if appends is None or self.session.in_transaction() or new.attachment is not None:
            if not await self._is_member(room_id, sender.id):
                return None
            return await self.append(room_id, new)
        row = NewRow(
            room_id=room_id,
            id=uuid.uuid4(),
            sender_id=sender.id,
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
            record: MessageRecord = {
                "id": row.id,
                "room_id": room_id,
                "seq": seq,
                "kind": new.kind,
                "sender": {
                    "id": sender.id,
                    "username": sender.username,
                    "display_name": sender.display_name,
                },
                "body": row.body,
                "attachment": None,
                "client_id": row.client_id,
                "created_at": row.created_at,
                "edited_at": None,
                "deleted_at": None,
            }
            return record, True
        # Nothing stored: not a member, or a client_id already used. Rare; look which.
        if new.client_id is None or not await self._is_member(room_id, sender.id):
            return None
        existing = await self.by_client_id(room_id, sender, new.client_id)
        return None if existing is None else (existing, False)

    async def _is_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        statement = select(
            exists().where(Membership.room_id == room_id, Membership.user_id == user_id)
        )
        return bool(await self.session.scalar(statement))

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

    async def after(
        self,
        room_id: uuid.UUID,
        after_seq: int,
        limit: int,
        *,
        member_id: uuid.UUID | None = None,
    ) -> list[MessageRecord]:
        """Messages with seq > ``after_seq``, ascending, at most ``limit``; with ``member_id``,
        none unless that user is a member (checked in the same query)."""
        statement = _page_query(ascending=True, bounded=True, checked=member_id is not None)
        parameters = {
            "room_id": room_id,
            "after_seq": after_seq,
            "limit": limit,
            "member_id": member_id,
        }
        return await self.session.run_sync(_records, statement, parameters)

    async def before(
        self,
        room_id: uuid.UUID,
        before_seq: int | None,
        limit: int,
        *,
        member_id: uuid.UUID | None = None,
    ) -> list[MessageRecord]:
        """The ``limit`` messages just below ``before_seq`` (the newest when None), ascending;
        with ``member_id``, none unless that user is a member."""
        statement = _page_query(
            ascending=False, bounded=before_seq is not None, checked=member_id is not None
        )
        parameters = {
            "room_id": room_id,
            "before_seq": before_seq,
            "limit": limit,
            "member_id": member_id,
        }
        return (await self.session.run_sync(_records, statement, parameters))[::-1]

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        if self._dialect == "postgresql":
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
