"""Following a contender while it makes thumbnails: when each one was finished, and the CPU
its processes spent on them.

Both contenders are measured the same way, so that neither is charged its start-up (imports,
connections, a pool's processes started on the first job): the rate counts the thumbnails
finished after the first one, over the time from the first to the last, and the CPU meter
runs over the same span.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.support.meters import CpuMeter

__all__ = ["Thumbnails", "follow"]

# How often the finished thumbnails are counted: small beside a run of many seconds.
POLL_INTERVAL = 0.05


@dataclass(frozen=True, slots=True)
class Thumbnails:
    """What one contender made."""

    finished_at: list[float]  # wall-clock seconds, one per thumbnail
    cpu_seconds: float  # of its processes and their children, from first finished to last
    cpu_thumbnails: int  # thumbnails finished within that span

    @property
    def per_second(self) -> float:
        span = max(self.finished_at, default=0.0) - min(self.finished_at, default=0.0)
        return (len(self.finished_at) - 1) / span if span > 0 else math.nan

    @property
    def cpu_millis_per_thumbnail(self) -> float:
        if self.cpu_thumbnails == 0:
            return math.nan
        return self.cpu_seconds / self.cpu_thumbnails * 1000


async def follow(
    finished: Callable[[], Awaitable[int]],
    total: int,
    process: asyncio.subprocess.Process,
    log: Path,
) -> tuple[float, int]:
    """Wait until ``finished()`` reaches ``total``. Returns the CPU seconds ``process`` and its
    children spent from the first thumbnail seen finished to the last, and how many thumbnails
    were finished in that span. ``process`` must still be running at the end: CPU time of
    children that have exited can no longer be read."""
    meter = CpuMeter([process.pid])
    first_seen: int | None = None
    while True:
        if process.returncode is not None:
            msg = f"exited with {process.returncode} while making thumbnails:\n"
            raise RuntimeError(msg + log.read_text()[-3000:])
        done = await finished()
        if first_seen is None and done > 0:
            meter.start()
            first_seen = done
        if first_seen is not None and done >= total:
            return meter.stop(), total - first_seen
        await asyncio.sleep(POLL_INTERVAL)
