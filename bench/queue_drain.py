"""Timing a worker as it drains a queue: from the first job it finishes to the last.

The window opens when the first job is acknowledged, so the worker's start-up (imports,
connections) is left out; only the jobs acknowledged inside the window are counted.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.support.meters import CpuMeter

__all__ = ["Drain", "drain"]

# How often the queue is asked what is left: a Redis round trip, not the worker's time.
POLL_INTERVAL = 0.005


@dataclass(frozen=True)
class Drain:
    jobs: int
    seconds: float
    cpu_seconds: float  # the worker's, children included

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.jobs else math.nan

    @property
    def cpu_microseconds_per_job(self) -> float:
        return self.cpu_seconds / self.jobs * 1e6 if self.jobs else math.nan


async def drain(unfinished: Callable[[], Awaitable[int]], enqueued: int, worker_pid: int) -> Drain:
    """Waits until the worker has acknowledged all ``enqueued`` jobs, and times it."""
    while (left := await unfinished()) == enqueued:  # noqa: ASYNC110 (the queue is in Redis)
        await asyncio.sleep(POLL_INTERVAL)
    started = time.perf_counter()
    cpu = CpuMeter([worker_pid])
    cpu.start()
    while await unfinished():  # noqa: ASYNC110
        await asyncio.sleep(POLL_INTERVAL)
    return Drain(jobs=left, seconds=time.perf_counter() - started, cpu_seconds=cpu.stop())
