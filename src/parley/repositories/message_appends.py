"""Text messages from members, stored on PostgreSQL in batches.

A send is one self-committing statement: it checks membership, skips a ``client_id``
already used, takes the room's next seq and inserts. Under load, a statement per message
means a round trip, a commit and a pooled connection per message, and in a busy room
senders queueing on the room's row lock inside PostgreSQL. Instead, one statement runs at a
time on this process: sends that arrive while it runs wait in memory and all go into the
next statement, which stores each room's in arrival order with consecutive seqs, every
message still checked on its own, under one commit. A send on a quiet process runs at once,
alone, exactly as a statement per message would.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.db.outage import DATABASE_UNREACHABLE
from parley.db.statements import AutocommitConnection

__all__ = ["MessageAppends", "NewRow"]

log = logging.getLogger(__name__)

# Sends stored by one statement at most: a page of seqs, a bounded wait for the last of them.
MAX_BATCH = 100

# Written as SQL: built with the expression language, constructing it cost more CPU than
# PostgreSQL spends running it. The messages given, of any rooms, whose sender is a member and
# whose client_id is new (a NULL one matches nothing) take their room's next seqs in the order
# given; the others store nothing. The rooms' rows are locked in id order first, so that two
# such statements never wait on each other in a cycle. One message or a hundred, it is the
# same statement: the rules of an append on PostgreSQL are written once.
_APPEND = text("""
    WITH given AS (
        SELECT * FROM unnest(
            CAST(:room_ids AS uuid[]), CAST(:ids AS uuid[]), CAST(:sender_ids AS uuid[]),
            CAST(:kinds AS varchar[]), CAST(:bodies AS text[]), CAST(:client_ids AS varchar[]),
            CAST(:created_ats AS timestamptz[])
        ) WITH ORDINALITY
          AS given (room_id, id, sender_id, kind, body, client_id, created_at, position)
    ), accepted AS (
        SELECT given.*, row_number() OVER (PARTITION BY room_id ORDER BY position) AS rank
        FROM given
        WHERE EXISTS (
                SELECT FROM memberships
                WHERE room_id = given.room_id AND user_id = given.sender_id
            )
          AND NOT EXISTS (
                SELECT FROM messages
                WHERE room_id = given.room_id AND sender_id = given.sender_id
                  AND client_id = given.client_id
            )
    ), counts AS (
        SELECT room_id, count(*) AS added FROM accepted GROUP BY room_id
    ), locked AS MATERIALIZED (
        SELECT rooms.id FROM rooms JOIN counts ON counts.room_id = rooms.id
        ORDER BY rooms.id
        FOR NO KEY UPDATE OF rooms
    ), next_seq AS (
        UPDATE rooms SET last_seq = rooms.last_seq + counts.added
        FROM counts
        WHERE rooms.id = counts.room_id AND rooms.id IN (SELECT id FROM locked)
        RETURNING rooms.id AS room_id, rooms.last_seq - counts.added AS before
    )
    INSERT INTO messages (id, room_id, seq, kind, sender_id, body, client_id, created_at)
    SELECT accepted.id, accepted.room_id, next_seq.before + accepted.rank, accepted.kind,
           accepted.sender_id, accepted.body, accepted.client_id, accepted.created_at
    FROM accepted JOIN next_seq ON next_seq.room_id = accepted.room_id
    RETURNING id, seq
""")


@dataclass(frozen=True, slots=True)
class NewRow:
    """One text message to store, with the id and time it will have."""

    room_id: uuid.UUID
    id: uuid.UUID
    sender_id: uuid.UUID
    kind: str
    body: str
    client_id: str | None
    created_at: datetime


_Waiting = tuple[NewRow, "asyncio.Future[int | None]"]


class MessageAppends:
    """One per process and database. ``append`` answers the message's seq, or None when
    nothing was stored (the sender is not a member, or the ``client_id`` was used), and
    raises what PostgreSQL raised: ``IntegrityError`` when the same ``client_id`` was
    being stored at the same moment."""

    def __init__(self, engine: AsyncEngine) -> None:
        # One statement at a time, so one connection, kept between statements.
        self._connection = AutocommitConnection(engine)
        # None while no statement runs on this process; else the sends waiting for the next.
        self._waiting: list[_Waiting] | None = None
        self._drains: set[asyncio.Task[None]] = set()

    async def append(self, row: NewRow) -> int | None:
        if self._waiting is not None:
            future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            self._waiting.append((row, future))
            return await future
        # Nothing is being stored: this send runs now, alone, in the caller's own task.
        self._waiting = []
        try:
            return await self._append_one(row)
        finally:
            self._drain_or_release()

    @property
    def queued(self) -> int | None:
        """How many sends wait for the next statement; None while no statement runs."""
        return None if self._waiting is None else len(self._waiting)

    async def close(self) -> None:
        """Give the kept connection back to the pool, once no send is left (at shutdown)."""
        await self._connection.close()

    def _drain_or_release(self) -> None:
        if self._waiting:
            # Sends came in meanwhile: a task of the process's own stores them, so that no
            # caller's cancellation (a socket closing) can strand the others.
            waiting = self._waiting
            task = asyncio.get_running_loop().create_task(self._drain(waiting))
            self._drains.add(task)
            task.add_done_callback(lambda done: self._drained(done, waiting))
        else:
            self._waiting = None

    def _drained(self, task: asyncio.Task[None], waiting: list[_Waiting]) -> None:
        """The drain task is done. Normally it let go of ``waiting`` itself (a callback runs
        a loop turn later, when new sends may have joined the list); only if it was cancelled
        (at shutdown, perhaps before its first step) or failed are senders left on it."""
        self._drains.discard(task)
        if self._waiting is waiting:
            self._waiting = None
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("storing a batch of sends failed", exc_info=error)
        for _row, future in waiting:
            if future.done():
                continue
            if error is None:
                future.cancel()
            else:
                future.set_exception(error)

    async def _drain(self, waiting: list[_Waiting]) -> None:
        while waiting:
            # Taken off the list only once stored, so that a cancelled drain leaves every
            # sender it has not answered where _drained finds it.
            batch = waiting[:MAX_BATCH]
            await self._store([(row, future) for row, future in batch if not future.done()])
            del waiting[: len(batch)]
        self._waiting = None  # at once: a send arriving now runs by itself

    async def _store(self, batch: list[_Waiting]) -> None:
        """Store ``batch`` and answer each of its senders, whatever happens."""
        if not batch:
            return
        first, repeats = _without_repeats(batch)
        if len(first) > 1:
            try:
                seqs = await self._append_many([row for row, _ in first])
            except DATABASE_UNREACHABLE as error:  # the database is away: for every sender
                _answer_all(batch, error)
                return
            except DBAPIError:
                # Something in one message failed the statement (a client_id being stored
                # at this very moment, say): each is stored on its own, with its own answer.
                pass
            except Exception as error:  # noqa: BLE001  (each sender gets what the batch got)
                _answer_all(batch, error)
                return
            else:
                for row, future in first:
                    _answer(future, seqs.get(row.id))
                for _row, future in repeats:  # its sender finds the first's message
                    _answer(future, None)
                return
        for row, future in batch:
            try:
                _answer(future, await self._append_one(row))
            except Exception as error:  # noqa: BLE001  (its sender gets what it got)
                _answer_all([(row, future)], error)

    async def _append_one(self, row: NewRow) -> int | None:
        return (await self._append_many([row])).get(row.id)

    async def _append_many(self, rows: list[NewRow]) -> dict[uuid.UUID, int]:
        parameters = {
            "room_ids": [row.room_id for row in rows],
            "ids": [row.id for row in rows],
            "sender_ids": [row.sender_id for row in rows],
            "kinds": [row.kind for row in rows],
            "bodies": [row.body for row in rows],
            "client_ids": [row.client_id for row in rows],
            "created_ats": [row.created_at for row in rows],
        }
        stored = await self._connection.rows(_APPEND, parameters)
        return {row.id: row.seq for row in stored}


def _without_repeats(batch: list[_Waiting]) -> tuple[list[_Waiting], list[_Waiting]]:
    """The batch's sends, and apart those repeating the ``client_id`` of an earlier one (a
    client resending before its ack): in one statement the repeat would fail it whole."""
    first: list[_Waiting] = []
    repeats: list[_Waiting] = []
    seen: set[tuple[uuid.UUID, uuid.UUID, str]] = set()
    for row, future in batch:
        if row.client_id is None:
            first.append((row, future))
            continue
        key = (row.room_id, row.sender_id, row.client_id)
        (repeats if key in seen else first).append((row, future))
        seen.add(key)
    return first, repeats


def _answer(future: asyncio.Future[int | None], seq: int | None) -> None:
    if not future.done():  # done: its sender stopped waiting
        future.set_result(seq)


def _answer_all(batch: list[_Waiting], error: Exception) -> None:
    for _row, future in batch:
        if not future.done():
            future.set_exception(error)
