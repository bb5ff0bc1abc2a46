"""Log lines: every redaction pattern still applies behind the quick check that skips them,
and a line orjson refuses is written anyway."""

from __future__ import annotations

import json
import logging

import pytest

from parley.core.logging import JsonFormatter, logging_config, redact

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


def test_quoted_text_cannot_begin_a_line_of_its_own() -> None:
    forged = '{"level":"error","logger":"parley.auth","msg":"admin signed in"}'
    record = logging.LogRecord(
        "parley.worker", logging.INFO, __file__, 1, "file %s", (f"a.pdf\n{forged}\r\n",), None
    )
    error = ValueError(f"bad name\n{forged}")
    record.exc_info = (ValueError, error, None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "\r" not in line
    entry = json.loads(line)
    assert entry["logger"] == "parley.worker"
    assert entry["msg"] == f"file a.pdf\n{forged}\r\n"
    assert forged in entry["error"]


def test_the_multipart_parser_does_not_log_a_clients_malformed_form() -> None:
    # A malformed part is the client's fault, answered 400; python-multipart would log a
    # WARNING for each one, which an attacker could use to flood the operator's log.
    parser_log = logging.getLogger("python_multipart.multipart")
    configured = logging_config()["loggers"]["python_multipart"]
    assert logging.getLevelName(configured["level"]) > logging.WARNING
    assert parser_log.name.startswith("python_multipart.")  # the logger it configures
