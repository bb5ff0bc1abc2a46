"""Messages read back from SQL as records: the columns, the join with their sender, the row's
turn into a ``MessageRecord``. Pages of history and single messages read them alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from parley.db.message_record import MessageRecord, Sender, message_record
from parley.db.models import Message, User

__all__ = ["record_of", "select_records"]

# The message's columns, then its sender's (the outer join gives NULLs when it has none).
_COLUMNS = (
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


def select_records() -> Select[tuple[Any, ...]]:
    """Messages with their senders' names; ``record_of`` turns each row into a record."""
    return select(*_COLUMNS).outerjoin(User, User.id == Message.sender_id)


def record_of(row: Sequence[Any]) -> MessageRecord:
    (
        message_id,
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
    sender: Sender | None = (
        None
        if sender_id is None
        else {"id": sender_id, "username": sender_username, "display_name": sender_display_name}
    )
    return message_record(
        message_id,
        room_id,
        seq,
        kind,
        sender,
        body,
        attachment,
        client_id,
        created_at,
        edited_at,
        deleted_at,
    )
