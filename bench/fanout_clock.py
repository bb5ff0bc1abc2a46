"""The clock of the fan-out benchmark, and the send time each message body carries.

The sender and the receivers are separate processes. ``CLOCK_MONOTONIC`` is one clock for
the whole machine on Linux, so a send time read in the sender and an arrival time read in a
receiver can be subtracted, and no wall-clock adjustment can fall between them.
"""

from __future__ import annotations

import time

__all__ = ["BODY_LENGTH", "now_ns", "sent_at", "stamped_body"]

# About a chat line.
BODY_LENGTH = 100
_STAMP_DIGITS = 20


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def stamped_body(sent_ns: int) -> str:
    """A body of ``BODY_LENGTH`` characters that starts with its send time."""
    return f"{sent_ns:0{_STAMP_DIGITS}d} ".ljust(BODY_LENGTH, "x")


def sent_at(body: str) -> int:
    return int(body[:_STAMP_DIGITS])
