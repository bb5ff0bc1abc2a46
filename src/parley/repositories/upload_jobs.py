"""The worker's statements on an upload: claim it, keep it, let it go, record its outcome.

Through an ``AsyncSession`` these cost the worker more CPU than the database spent running
them: the ORM built each statement anew, every step ran in a greenlet of its own, and a
single statement paid a ``BEGIN`` and a ``COMMIT`` round trip. Here the statements are built
once, with bound parameters; each step is one call on a pooled connection
(``db/statements.py``); a step that is one statement commits by itself (``write_rows``), and
the one step of several statements, a file's outcome with its room message, is one
transaction (``on_connection``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Label, Row, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute

from parley.db.base import utcnow
from parley.db.message_record import MessageRecord, Sender
from parley.db.models import Message, Upload, UploadStatus, User
from parley.db.statements import on_connection, read_rows, write_rows
from parley.repositories.messages import NewMessage, next_seq

__all__ = ["Claim", "UploadJobs"]

_UPLOAD_COLUMNS = tuple(Upload.__table__.columns)
_UPLOAD_KEYS = tuple(column.key for column in _UPLOAD_COLUMNS)


def _uploader(column: InstrumentedAttribute[str]) -> Label[str]:
    """``column`` of the upload's uploader, read in the statement that claims it."""
    return (
        select(column)
        .where(User.id == Upload.uploader_id)
        .correlate(Upload)
        .scalar_subquery()
        .label(f"uploader_{column.key}")
    )


# Takes ``:upload_id`` until ``:until`` if it is still processing and nobody holds it
# (``:now``); returns the upload and its uploader's names, for the room message.
_CLAIM = (
    update(Upload)
    .where(
        Upload.id == bindparam("upload_id"),
        Upload.status == UploadStatus.PROCESSING,
        or_(Upload.lease_until.is_(None), Upload.lease_until < bindparam("now")),
    )
    .values(attempts=Upload.attempts + 1, lease_until=bindparam("until"))
    .returning(*_UPLOAD_COLUMNS, _uploader(User.username), _uploader(User.display_name))
)

# The upload ``:upload_id``, if our claim, its ``:attempt``, still holds it. Checked in the
# statement that writes, so a worker taken over never finishes an upload a second time.
_STILL_OURS = (
    Upload.id == bindparam("upload_id"),
    Upload.status == UploadStatus.PROCESSING,
    Upload.attempts == bindparam("attempt"),
)

_FINISH = (
    update(Upload)
    .where(*_STILL_OURS)
    .values(
        status=bindparam("outcome"),
        result=bindparam("outcome_result"),
        error=bindparam("outcome_error"),
        message_id=bindparam("outcome_message_id"),
        size=bindparam("outcome_size"),
        lease_until=None,
    )
    .returning(*_UPLOAD_COLUMNS)
)

# Lets go of our claim at ``:now``, for the job's retry to take it up at once.
_RELEASE = update(Upload).where(*_STILL_OURS).values(lease_until=bindparam("now"))

_RENEW = (
    update(Upload)
    .where(Upload.id == bindparam("upload_id"), Upload.status == UploadStatus.PROCESSING)
    .values(lease_until=bindparam("until"))
)

_STATUS = select(Upload.status).where(Upload.id == bindparam("upload_id"))

_NEXT_SEQ = next_seq(bindparam("room_id"))

_INSERT_MESSAGE = insert(Message)


@dataclass(frozen=True, slots=True)
class Claim:
    """An upload this worker holds for one lease, and its uploader as messages show them;
    None once the account is gone."""

    upload: Upload
    uploader: Sender | None


class UploadJobs:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, upload_id: uuid.UUID, now: datetime, until: datetime) -> Claim | None:
        """Take the upload for processing until ``until``; None when it is finished or
        another worker holds it (a duplicate job, which then has nothing to do)."""
        rows = await write_rows(
            self._engine, _CLAIM, {"upload_id": upload_id, "now": now, "until": until}
        )
        if not rows:
            return None
        upload = _upload(rows[0])
        username, display_name = rows[0].uploader_username, rows[0].uploader_display_name
        uploader = (
            None
            if upload.uploader_id is None or username is None
            else Sender(id=upload.uploader_id, username=username, display_name=display_name)
        )
        return Claim(upload, uploader)

    async def status(self, upload_id: uuid.UUID) -> UploadStatus | None:
        rows = await read_rows(self._engine, _STATUS, {"upload_id": upload_id})
        return rows[0].status if rows else None

    async def renew(self, upload_id: uuid.UUID, until: datetime) -> None:
        await write_rows(self._engine, _RENEW, {"upload_id": upload_id, "until": until})

    async def release(self, upload: Upload, now: datetime) -> None:
        """Let go of our claim at once. The lease ends ``now`` rather than vanishing: the
        job went back to the queue then (see ``UploadRepository.take_lost``)."""
        parameters = {"upload_id": upload.id, "attempt": upload.attempts, "now": now}
        await write_rows(self._engine, _RELEASE, parameters)

    async def fail(self, upload: Upload, error: str) -> Upload | None:
        """Record that the upload failed, if our claim still holds it; None when not."""
        parameters = _outcome(upload, UploadStatus.FAILED, error=error)
        rows = await write_rows(self._engine, _FINISH, parameters)
        return _upload(rows[0]) if rows else None

    async def finish(
        self, upload: Upload, result: dict[str, Any], message: NewMessage, *, size: int
    ) -> tuple[Upload, MessageRecord] | None:
        """Record the upload done, its file now ``size`` bytes (less once stripped of its
        metadata), and post ``message`` in its room, in one transaction, if our claim still
        holds it; None when not, and then neither is written."""
        message_id, created_at = uuid.uuid4(), utcnow()
        values = {
            "id": message_id,
            "room_id": upload.room_id,
            "kind": message.kind,
            "sender_id": message.sender_id,
            "body": message.body,
            "attachment": message.attachment,
            "created_at": created_at,
        }
        outcome = _outcome(
            upload, UploadStatus.DONE, result=result, message_id=message_id, size=size
        )
        stored = await on_connection(self._engine, lambda held: _finish(held, values, outcome))
        if stored is None:
            return None
        row, seq = stored
        return _upload(row), message.stored(message_id, upload.room_id, seq, created_at)


def _finish(
    connection: Connection, message: dict[str, Any], outcome: dict[str, Any]
) -> tuple[Row[Any], int] | None:
    # The message first, so that the upload's row is written once, with its id.
    seq = connection.scalar(_NEXT_SEQ, {"room_id": message["room_id"]})
    if seq is None:
        return None  # the room was deleted, and its uploads with it
    connection.execute(_INSERT_MESSAGE, {**message, "seq": seq})
    finished = connection.execute(_FINISH, outcome).first()
    if finished is None:
        return None  # taken over: closing rolls the message and its seq back
    connection.commit()
    return finished, seq


def _outcome(
    upload: Upload,
    outcome: UploadStatus,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    message_id: uuid.UUID | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    return {
        "upload_id": upload.id,
        "attempt": upload.attempts,
        "outcome": outcome,
        "outcome_result": result,
        "outcome_error": error,
        "outcome_message_id": message_id,
        "outcome_size": upload.size if size is None else size,
    }


def _upload(row: Row[Any]) -> Upload:
    """The upload as the statement left it (its first columns): an object of no session,
    only read from."""
    return Upload(**dict(zip(_UPLOAD_KEYS, row, strict=False)))
