"""Pages of a room's history, read as plain rows and handed on as message records.

Never ORM objects: a page is 50 to 200 messages, only ever turned into JSON, and
identity-mapped objects cost several times as much."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Select, bindparam, exists
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import BindParameter

from parley.db.message_record import MessageRecord
from parley.db.models import Membership, Message
from parley.db.statements import read_rows
from parley.repositories.message_rows import record_of, select_records

__all__ = ["MessagePages"]


@functools.cache
def _page_query(*, ascending: bool, bounded: bool, checked: bool) -> Select[tuple[Any, ...]]:
    """A page of history: messages of ``:room_id`` after ``:after_seq`` (ascending) or before
    ``:before_seq`` (descending; ``bounded`` or not), at most ``:limit``; ``checked``, none
    unless ``:member_id`` is a member. Built once per shape with bound parameters: building
    a statement cost more CPU than PostgreSQL spends running it."""
    room_id: BindParameter[Any] = bindparam("room_id")
    statement = select_records().where(Message.room_id == room_id).limit(bindparam("limit"))
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


class MessagePages:
    """Pages of history, for the REST API and for sockets catching up.

    A page is one statement that only reads, so it runs on a pooled connection of its own
    (``read_rows``: one trip through the asyncio bridge, autocommit on PostgreSQL) rather
    than in a session, whose set-up and tear-down cost a third of a page's CPU.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        return [record_of(row) for row in await read_rows(self._engine, statement, parameters)]

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
        rows = await read_rows(self._engine, statement, parameters)
        return [record_of(row) for row in reversed(rows)]
