"""Log lines: every redaction pattern still applies behind the quick check that skips them,
and a line orjson refuses is written anyway."""

from __future__ import annotations

import json
import logging

import pytest

from parley.core.logging import JsonFormatter, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"GET /api/x?next={JWT} HTTP/1.1", JWT),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("authorization: BEARER abc123", "abc123"),
        ('{"password": "hunter2"}', "hunter2"),
        ("PASSWORD=hunter2&x=1", "hunter2"),
        ("refresh_token=r-123", "r-123"),
        ("{'access_token': 'a-123'}", "a-123"),
        ("?token=t-123", "t-123"),
        ("secret_key: s-123", "s-123"),
    ],
)
def test_each_kind_of_secret_is_redacted(line: str, secret: str) -> None:
    assert secret not in redact(line)


def test_a_line_without_secrets_is_left_alone() -> None:
    line = '127.0.0.1:5555 - "GET /api/rooms/7f12/messages?before_seq=50 HTTP/1.1" 200'
    assert redact(line) is line


def test_a_line_orjson_refuses_is_still_written() -> None:
    record = logging.LogRecord(
        "parley", logging.ERROR, __file__, 1, "odd name: %s", ("\udcff",), None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "odd name: \udcff"
    assert entry["level"] == "error"
