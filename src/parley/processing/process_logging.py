"""Logging in a processing process: Parley's JSON lines, and nothing else.

A processing process parses files anyone may upload, with libraries that write what they
like where they like. pypdf logs a font's encoding name, and a PDF may put a newline in
that name followed by a line that looks like one of Parley's own. So each process starts
(``start_processing_process``, the pool's initializer) by logging as the worker does, one
JSON object a line, Python's warnings included; and its standard output and error, down
to the file descriptors that C code writes to, go through a pipe that a thread turns into
log lines: whatever a library prints is kept, as a JSON string inside a line of Parley's.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading

from parley.core.logging import configure_logging

__all__ = ["OUTPUT_LOGGER", "start_processing_process"]

# The logger of what the libraries of a processing process print.
OUTPUT_LOGGER = "parley.processing.output"
# Longer lines are logged in pieces of this many bytes: a line is never held whole.
_LONGEST_LINE = 8192


def start_processing_process(level: str = "INFO") -> None:
    """Set up logging in a new processing process. Its log lines go where its standard
    error went (the worker's); its standard output and error become a pipe into the log."""
    log_stream = os.fdopen(os.dup(2), "w", encoding="utf-8", errors="backslashreplace", buffering=1)
    configure_logging(level, log_stream)
    read_end, write_end = os.pipe()
    _flush_standard_streams()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    # A line printed reaches the log at once, not when a buffer fills or the process ends.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    reader = threading.Thread(
        target=_log_output, args=(read_end,), name="output-to-log", daemon=True
    )
    reader.start()
    atexit.register(_stop, reader)


def _log_output(read_end: int) -> None:
    log = logging.getLogger(OUTPUT_LOGGER)
    with os.fdopen(read_end, "rb") as output:
        while line := output.readline(_LONGEST_LINE):
            text = line.decode("utf-8", "backslashreplace").rstrip("\r\n")
            if text.strip():
                log.warning("%s", text)


def _stop(reader: threading.Thread) -> None:
    """At exit: what was printed last reaches the log, and nothing after it escapes raw."""
    _flush_standard_streams()
    discard = os.open(os.devnull, os.O_WRONLY)
    os.dup2(discard, 1)  # the pipe's last writers closed: the reader meets its end
    os.dup2(discard, 2)
    os.close(discard)
    reader.join(timeout=2)


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
