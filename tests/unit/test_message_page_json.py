"""A page of history is written straight from its rows; it must be exactly the JSON that
``MessagePage`` itself would give for them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from asyncpg.pgproto import pgproto

from parley.db.models import MessageKind
from parley.repositories.message_pages import MessageRecord
from parley.schemas.messages import MessagePage, message_page_json


def _record(seq: int, **changes: Any) -> MessageRecord:
    record: MessageRecord = {
        "id": uuid.uuid4(),
        "room_id": uuid.uuid4(),
        "seq": seq,
        "kind": MessageKind.TEXT,
        "sender": {"id": uuid.uuid4(), "username": "alice", "display_name": "Alice Ünicode 🎉"},
        "body": 'Quotes " and \\ and a newline\n, <html> & a NUL-free line',
        "attachment": None,
        "client_id": f"c-{seq}",
        "created_at": datetime(2026, 11, 26, 14, 0, 0, 123456, tzinfo=UTC),
        "edited_at": None,
        "deleted_at": None,
    }
    return record | changes


RECORDS = [
    _record(1),
    # Whole seconds: neither writer may add a fraction.
    _record(2, created_at=datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC), client_id=None),
    _record(3, edited_at=datetime(2026, 11, 26, 15, 30, 1, 5, tzinfo=UTC)),
    _record(
        4,
        body="",
        deleted_at=datetime(2026, 11, 27, 0, 0, 0, 999999, tzinfo=UTC),
    ),
    # A system message: no sender, an attachment of nested JSON.
    _record(
        5,
        kind=MessageKind.SYSTEM,
        sender=None,
        body="alice joined",
        attachment={"event": "joined", "user": {"id": str(uuid.uuid4())}, "n": [1, 2.5, None]},
    ),
    _record(
        6,
        kind=MessageKind.IMAGE,
        attachment={"upload_id": str(uuid.uuid4()), "width": 800, "ok": True, "ratio": 0.1},
    ),
    # asyncpg gives back its own UUID type, a subclass of uuid.UUID.
    _record(7, id=pgproto.UUID(str(uuid.uuid4())), room_id=pgproto.UUID(str(uuid.uuid4()))),
]


@pytest.mark.parametrize("has_more", [True, False])
def test_a_page_is_written_exactly_as_message_page_would_write_it(has_more: bool) -> None:
    expected = MessagePage.model_validate({"items": RECORDS, "has_more": has_more})
    assert message_page_json(RECORDS, has_more=has_more) == expected.model_dump_json().encode()


def test_an_empty_page() -> None:
    assert message_page_json([], has_more=False) == b'{"items":[],"has_more":false}'


def test_a_value_json_cannot_hold_is_refused_not_written() -> None:
    with pytest.raises(TypeError):
        message_page_json([_record(1, body=object())], has_more=False)
