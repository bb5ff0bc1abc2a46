"""JSON exactly as the API's models write it, from plain values: for what is written so often
(messages, pages of them) that building models only to dump them would cost more than the
rest of the work. Tests hold each such writer to its model's own JSON, byte for byte."""

from __future__ import annotations

import uuid

import orjson

__all__ = ["wire_json"]


def wire_json(content: object) -> bytes:
    """``content`` as pydantic would write it: compact, UUIDs as text, UTC times with ``Z``."""
    return orjson.dumps(content, default=_uuid_text, option=orjson.OPT_UTC_Z)


def _uuid_text(value: object) -> str:
    # asyncpg hands back its own UUID subclass, which orjson writes only through ``default``.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
