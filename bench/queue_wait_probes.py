"""Enqueue-to-start latency: jobs sent at a steady pace to an idle worker, each of which has
the worker print, as it starts it, how long it waited (``waited <seconds> s``)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["logged_waits", "send_at_pace"]

_WAITED = re.compile(rb"waited (\d+\.\d+) s")
_LOG_READ_INTERVAL = 0.05


async def send_at_pace(send: Callable[[], Awaitable[None]], count: int, interval: float) -> None:
    """``count`` sends, ``interval`` seconds apart on a fixed schedule (a slow send does not
    push the later ones back)."""
    start = time.perf_counter()
    for index in range(count):
        await asyncio.sleep(max(0.0, start + index * interval - time.perf_counter()))
        await send()


async def logged_waits(log: Path, count: int) -> list[float]:
    """The first ``count`` waits the worker printed to ``log``, in seconds, once it has."""
    while len(waits := _WAITED.findall(log.read_bytes())) < count:  # noqa: ASYNC110 (a file)
        await asyncio.sleep(_LOG_READ_INTERVAL)
    return [float(wait) for wait in waits[:count]]
