"""Structured logs: one JSON object a line, with the request or connection they belong to,
and never a token or a password in them.

Whatever a line quotes (a file's name, a parser's complaint about a file, a client's
header) is a JSON string inside it: a newline or a quote in it is escaped, so no text can
end a line and begin one that looks like Parley's own. Python's warnings are logged too
(``configure_logging``), as are uncaught exceptions; the processing processes, which run
libraries that print as they please, send their raw output through the log as well
(``parley.processing.process_logging``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import re
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

import orjson

__all__ = [
    "JsonFormatter",
    "RedactingFilter",
    "configure_logging",
    "context",
    "logging_config",
]

# Set by the HTTP middleware (a request id) and by each socket (a connection id).
context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "parley_log_context", default=None
)

# JWTs, bearer headers, and "password"/"token" fields in anything that looks like JSON or a
# query string. A safety net: Parley never logs these on purpose.
_SECRET_FIELDS = "password|refresh_token|access_token|token|secret_key"  # noqa: S105 (names)
_SECRETS = [
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), "[jwt]"),
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), r"\1[redacted]"),
    (
        re.compile(rf"""(?i)(["']?(?:{_SECRET_FIELDS})["']?\s*[:=]\s*["']?)[^"'&\s,}}]+"""),
        r"\1[redacted]",
    ),
]

# What every pattern above starts from: one search rules out the three substitutions for
# nearly every line (an access log line is written per request).
_MAYBE_SECRET = re.compile(rf"(?i)eyJ|bearer|{_SECRET_FIELDS}")


def redact(text: str) -> str:
    if _MAYBE_SECRET.search(text) is None:
        return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **(context.get() or {}),
        }
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        try:
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:
            # Text orjson refuses (a lone surrogate, from an OS string decoded with
            # surrogateescape, say): the slower encoder writes it rather than lose the line.
            return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(
    level: str = "INFO", stream: str | IO[str] = "ext://sys.stderr"
) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict, also handed to uvicorn."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "filters": ["redact"],
        "stream": stream,
    }
    loggers = ("parley", "uvicorn", "uvicorn.access", "uvicorn.error")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactingFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "loggers": {
            **{
                name: {"handlers": ["stderr"], "level": level, "propagate": False}
                for name in loggers
            },
            # It warns of every malformed part a client sends, which Parley already answers
            # with a 400: a client's fault, not the operator's.
            "python_multipart": {"level": "ERROR"},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def configure_logging(level: str = "INFO", stream: str | IO[str] = "ext://sys.stderr") -> None:
    """Parley's logging for this whole process: JSON lines on ``stream``, Python's warnings
    among them (printed as they are otherwise, several lines of raw text each), and an
    uncaught exception with its traceback."""
    logging.config.dictConfig(logging_config(level, stream))
    logging.captureWarnings(capture=True)
    sys.excepthook = _log_uncaught


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("parley").critical(
        "stopped by an uncaught %s", kind.__name__, exc_info=(kind, error, traceback)
    )
