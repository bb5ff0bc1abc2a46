"""What a processing process writes is Parley's JSON log lines and nothing else: a parser's
warnings, a library's prints, even bytes written straight to the file descriptor, each
become one JSON object, so a hostile file cannot forge a line. Real processes, spawned as
the worker's are; pytest's ``capfd`` reads what they write to the inherited descriptors."""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

import pytest

from parley.processing.detect import FileKind
from parley.processing.pool import ProcessingPool
from parley.processing.previews import make_preview
from tests.support.files import FORGED_LOG_LINE, pdf_forging_a_log_line


def _noisy() -> str:
    """What libraries do in a processing process, short of logging."""
    warnings.warn(f"a warning\n{FORGED_LOG_LINE}", UserWarning, stacklevel=1)
    print(f"printed\n{FORGED_LOG_LINE}")  # noqa: T201
    print(f"to stderr\n{FORGED_LOG_LINE}", file=sys.stderr)  # noqa: T201
    os.write(2, f"from C\n{FORGED_LOG_LINE}\n".encode())  # as a C library would
    return "done"


def _entries(output: str) -> list[dict[str, Any]]:
    entries = []
    for line in output.splitlines():
        entry = json.loads(line)  # every line: one object, or this fails
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


async def test_a_pdf_cannot_forge_a_log_line(capfd: pytest.CaptureFixture[str]) -> None:
    pool = ProcessingPool(1, cpu_seconds=30)
    try:
        preview = await pool.run(make_preview, FileKind.PDF, pdf_forging_a_log_line(), 1)
    finally:
        pool.shutdown(wait=True)  # its last lines written
    assert preview.result["text_preview"] == "Minutes of the meeting"
    out, err = capfd.readouterr()
    entries = _entries(out + err)
    assert [entry["logger"] for entry in entries] == ["pypdf._cmap"]
    [pypdf] = entries
    assert pypdf["level"] == "error"
    assert FORGED_LOG_LINE in pypdf["msg"]  # there, as text inside Parley's own line


async def test_warnings_prints_and_raw_writes_become_json_lines(
    capfd: pytest.CaptureFixture[str],
) -> None:
    pool = ProcessingPool(1, cpu_seconds=30)
    try:
        assert await pool.run(_noisy) == "done"
    finally:
        pool.shutdown(wait=True)
    out, err = capfd.readouterr()
    entries = _entries(out + err)
    assert all(entry["logger"] != "parley.auth" for entry in entries)
    messages = "\n".join(entry["msg"] for entry in entries)
    for text in ("a warning", "printed", "to stderr", "from C"):
        assert text in messages
    assert {entry["logger"] for entry in entries} == {"py.warnings", "parley.processing.output"}
