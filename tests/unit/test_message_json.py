"""Messages are written straight from their records (a page of history, a posted or edited
message, the frames that carry one): each must be exactly the JSON its model would give."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from asyncpg.pgproto import pgproto

from parley.db.message_record import MessageRecord, Sender, message_record
from parley.db.models import MessageKind
from parley.realtime.frames import (
    AckFrame,
    MessageEventFrame,
    MessageEventType,
    ack_frame,
    message_frame,
)
from parley.schemas.messages import MessageOut, MessagePage, message_json, message_page_json

ALICE: Sender = {"id": uuid.uuid4(), "username": "alice", "display_name": "Alice Ünicode 🎉"}
AT = datetime(2026, 11, 26, 14, 0, 0, 123456, tzinfo=UTC)


def _record(seq: int, **changes: Any) -> MessageRecord:
    fields: dict[str, Any] = {
        "message_id": uuid.uuid4(),
        "room_id": uuid.uuid4(),
        "seq": seq,
        "kind": MessageKind.TEXT,
        "sender": ALICE,
        "body": 'Quotes " and \\ and a newline\n, <html> & a NUL-free line',
        "attachment": None,
        "client_id": f"c-{seq}",
        "created_at": AT,
    }
    return message_record(**(fields | changes))


RECORDS = [
    _record(1),
    # Whole seconds: neither writer may add a fraction.
    _record(2, created_at=datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC), client_id=None),
    _record(3, edited_at=datetime(2026, 11, 26, 15, 30, 1, 5, tzinfo=UTC)),
    _record(4, body="", deleted_at=datetime(2026, 11, 27, 0, 0, 0, 999999, tzinfo=UTC)),
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
    _record(
        7,
        message_id=pgproto.UUID(str(uuid.uuid4())),
        room_id=pgproto.UUID(str(uuid.uuid4())),
        sender={"id": pgproto.UUID(str(uuid.uuid4())), "username": "bob", "display_name": "B"},
    ),
    # Characters JSON writers are known to escape differently.
    _record(8, body="\x01\x1f\x7f \u2028\u2029 \t\r\b\f / </script> 𝄞 é", client_id="c-\x02"),
]


@pytest.mark.parametrize("has_more", [True, False])
def test_a_page_is_written_exactly_as_message_page_would_write_it(has_more: bool) -> None:
    expected = MessagePage.model_validate({"items": RECORDS, "has_more": has_more})
    assert message_page_json(RECORDS, has_more=has_more) == expected.model_dump_json().encode()


def test_an_empty_page() -> None:
    assert message_page_json([], has_more=False) == b'{"items":[],"has_more":false}'


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: str(record["seq"]))
def test_a_message_is_written_exactly_as_message_out_would_write_it(
    record: MessageRecord,
) -> None:
    assert message_json(record) == MessageOut.model_validate(record).model_dump_json().encode()


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: str(record["seq"]))
def test_the_frames_that_carry_a_message_are_written_exactly_as_their_models(
    record: MessageRecord,
) -> None:
    model = MessageOut.model_validate(record)
    ack = AckFrame(client_id="c-\x03 é", message=model)
    assert ack_frame("c-\x03 é", record) == ack.model_dump_json()
    for type_ in get_args(MessageEventType):
        event = MessageEventFrame(type=type_, room_id=record["room_id"], message=model)
        assert message_frame(type_, record) == event.model_dump_json()


def test_a_value_json_cannot_hold_is_refused_not_written() -> None:
    with pytest.raises(TypeError):
        message_page_json([_record(1, body=object())], has_more=False)
