"""Text messages from members, stored on PostgreSQL one room at a time, in batches.

A send is one self-committing statement: it checks membership, skips a ``client_id``
already used, takes the room's next seq and inserts. Every send into one room waits for the
room's row lock, so in a busy room a statement per message means senders queueing on that
lock inside PostgreSQL, each paying a round trip and a commit of its own. Instead, one
statement per room runs at a time on this process: sends that arrive while it runs wait in
memory and all go into the next statement, which stores them in arrival order with
consecutive seqs under one lock and one commit. A quiet room's send runs at once, alone,
exactly as before; a busy room's sends share the work.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.db.autocommit import autocommit_rows, autocommit_scalar

__all__ = ["MessageAppends", "NewRow"]

# Sends stored by one statement at most: a page of seqs, a bounded wait for the last of them.
MAX_BATCH = 100

# Written as SQL: built with the expression language, constructing it cost more CPU than
# PostgreSQL spends running it. A client_id that is NULL matches nothing, as it should.
_APPEND_ONE = text("""
    WITH next_seq AS (
        UPDATE rooms SET last_seq = last_seq + 1
        WHERE id = CAST(:room_id AS uuid)
          AND EXISTS (
              SELECT FROM memberships
              WHERE room_id = CAST(:room_id AS uuid) AND user_id = CAST(:sender_id AS uuid)
          )
          AND NOT EXISTS (
              SELECT FROM messages
              WHERE room_id = CAST(:room_id AS uuid) AND sender_id = CAST(:sender_id AS uuid)
                AND client_id = CAST(:client_id AS varchar)
          )
        RETURNING last_seq
    )
    INSERT INTO messages (id, room_id, seq, kind, sender_id, body, client_id, created_at)
    SELECT CAST(:id AS uuid), CAST(:room_id AS uuid), last_seq, CAST(:kind AS varchar),
           CAST(:sender_id AS uuid), CAST(:body AS text), CAST(:client_id AS varchar),
           CAST(:created_at AS timestamptz)
    FROM next_seq
    RETURNING seq
""")

# The same for many messages of one room: those whose sender is a member and whose
# client_id is new take consecutive seqs in the order given; the others store nothing.
_APPEND_MANY = text("""
    WITH given AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:sender_ids AS uuid[]), CAST(:kinds AS varchar[]),
            CAST(:bodies AS text[]), CAST(:client_ids AS varchar[]),
            CAST(:created_ats AS timestamptz[])
        ) WITH ORDINALITY AS given (id, sender_id, kind, body, client_id, created_at, position)
    ), accepted AS (
        SELECT given.*, row_number() OVER (ORDER BY position) AS rank
        FROM given
        WHERE EXISTS (
                SELECT FROM memberships
                WHERE room_id = CAST(:room_id AS uuid) AND user_id = given.sender_id
            )
          AND NOT EXISTS (
                SELECT FROM messages
                WHERE room_id = CAST(:room_id AS uuid) AND sender_id = given.sender_id
                  AND client_id = given.client_id
            )
    ), next_seq AS (
        UPDATE rooms SET last_seq = last_seq + (SELECT count(*) FROM accepted)
        WHERE id = CAST(:room_id AS uuid) AND EXISTS (SELECT FROM accepted)
        RETURNING last_seq - (SELECT count(*) FROM accepted) AS before
    )
    INSERT INTO messages (id, room_id, seq, kind, sender_id, body, client_id, created_at)
    SELECT accepted.id, CAST(:room_id AS uuid), next_seq.before + accepted.rank, accepted.kind,
           accepted.sender_id, accepted.body, accepted.client_id, accepted.created_at
    FROM accepted CROSS JOIN next_seq
    RETURNING id, seq
""")


@dataclass(frozen=True, slots=True)
class NewRow:
    """One text message to store, with the id and time it will have."""

    id: uuid.UUID
    sender_id: uuid.UUID
    kind: str
    body: str
    client_id: str | None
    created_at: datetime

    def parameters(self, room_id: uuid.UUID) -> dict[str, Any]:
        return {
            "room_id": room_id,
            "id": self.id,
            "sender_id": self.sender_id,
            "kind": self.kind,
            "body": self.body,
            "client_id": self.client_id,
            "created_at": self.created_at,
        }


_Waiting = tuple[NewRow, "asyncio.Future[int | None]"]


class MessageAppends:
    """One per process and database. ``append`` answers the message's seq, or None when
    nothing was stored (the sender is not a member, or the ``client_id`` was used), and
    raises what PostgreSQL raised: ``IntegrityError`` when the same ``client_id`` was
    being stored at the same moment."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Rooms with a statement running on this process, and the sends waiting for it.
        self._waiting: dict[uuid.UUID, list[_Waiting]] = {}
        self._drains: set[asyncio.Task[None]] = set()

    async def append(self, room_id: uuid.UUID, row: NewRow) -> int | None:
        waiting = self._waiting.get(room_id)
        if waiting is not None:
            future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            waiting.append((row, future))
            return await future
        # The room is quiet: this send runs now, alone, in the caller's own task.
        self._waiting[room_id] = []
        try:
            return await self._append_one(room_id, row)
        finally:
            self._drain_or_release(room_id)

    def _drain_or_release(self, room_id: uuid.UUID) -> None:
        if self._waiting[room_id]:
            # Sends came in meanwhile: a task of the process's own stores them, so that no
            # caller's cancellation (a socket closing) can strand the others.
            task = asyncio.get_running_loop().create_task(self._drain(room_id))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        else:
            del self._waiting[room_id]

    async def _drain(self, room_id: uuid.UUID) -> None:
        waiting = self._waiting[room_id]
        try:
            while waiting:
                batch = [(row, future) for row, future in waiting[:MAX_BATCH] if not future.done()]
                del waiting[:MAX_BATCH]
                if batch:
                    await self._store(room_id, batch)
        finally:
            del self._waiting[room_id]
            for _row, future in waiting:  # only if cancelled itself, at shutdown
                future.cancel()

    async def _store(self, room_id: uuid.UUID, batch: list[_Waiting]) -> None:
        """Store ``batch`` and answer each of its senders, whatever happens."""
        if len(batch) > 1:
            try:
                seqs = await self._append_many(room_id, [row for row, _ in batch])
            except IntegrityError:
                pass  # a client_id sent twice at once: the batch stored nothing; one by one
            except Exception as error:  # noqa: BLE001  (each sender gets what the batch got)
                _answer_all(batch, error)
                return
            else:
                for row, future in batch:
                    _answer(future, seqs.get(row.id))
                return
        for row, future in batch:
            try:
                _answer(future, await self._append_one(room_id, row))
            except Exception as error:  # noqa: BLE001  (its sender gets what it got)
                _answer_all([(row, future)], error)

    async def _append_one(self, room_id: uuid.UUID, row: NewRow) -> int | None:
        seq = await autocommit_scalar(self._engine, _APPEND_ONE, row.parameters(room_id))
        return None if seq is None else int(seq)

    async def _append_many(self, room_id: uuid.UUID, rows: list[NewRow]) -> dict[uuid.UUID, int]:
        parameters = {
            "room_id": room_id,
            "ids": [row.id for row in rows],
            "sender_ids": [row.sender_id for row in rows],
            "kinds": [row.kind for row in rows],
            "bodies": [row.body for row in rows],
            "client_ids": [row.client_id for row in rows],
            "created_ats": [row.created_at for row in rows],
        }
        stored = await autocommit_rows(self._engine, _APPEND_MANY, parameters)
        return dict(stored)


def _answer(future: asyncio.Future[int | None], seq: int | None) -> None:
    if not future.done():  # done: its sender stopped waiting
        future.set_result(seq)


def _answer_all(batch: list[_Waiting], error: Exception) -> None:
    for _row, future in batch:
        if not future.done():
            future.set_exception(error)
