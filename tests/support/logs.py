"""Reading a Parley process's log: one JSON object a line, or the test fails on that line."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["json_log_entries"]


def json_log_entries(log: str) -> list[dict[str, Any]]:
    entries = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            msg = f"not a JSON line: {line!r}"
            raise AssertionError(msg) from error
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries
