"""The in-process queue of the embedded default: the same contract, in one event loop."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Sequence

from parley.tasks.commands import Command
from parley.tasks.queue import DeadLetter, JobRecord, Lease, QueueStats

__all__ = ["MemoryTaskQueue"]


class MemoryTaskQueue:
    """Jobs live in this process; they are lost with it, and the upload sweeper finds the
    uploads whose jobs were lost when the process starts again."""

    def __init__(self) -> None:
        self._ready: deque[JobRecord] = deque()
        self._delayed: list[tuple[float, int, JobRecord]] = []
        self._in_flight: dict[str, JobRecord] = {}
        self._dead: list[DeadLetter] = []
        self._retries = 0
        self._counter = itertools.count()
        self._arrived = asyncio.Condition()

    async def enqueue(self, command: Command) -> str:
        job = JobRecord.of(command)
        await self._push(job)
        return job.id

    async def _push(self, job: JobRecord) -> None:
        async with self._arrived:
            self._ready.append(job)
            self._arrived.notify()

    async def claim(self, consumer: str, count: int, wait: float) -> list[Lease]:
        async with self._arrived:
            if not self._ready:
                try:
                    async with asyncio.timeout(wait):
                        await self._arrived.wait_for(lambda: bool(self._ready))
                except TimeoutError:
                    return []
            leases: list[Lease] = []
            while self._ready and len(leases) < count:
                job = self._ready.popleft()
                receipt = f"{consumer}-{next(self._counter)}"
                self._in_flight[receipt] = job
                leases.append(Lease(job, receipt))
            return leases

    async def ack(self, leases: Sequence[Lease]) -> None:
        for lease in leases:
            self._in_flight.pop(lease.receipt, None)

    async def retry(self, lease: Lease, delay: float) -> None:
        if self._in_flight.pop(lease.receipt, None) is None:
            return
        self._retries += 1
        due = time.monotonic() + delay
        heapq.heappush(self._delayed, (due, next(self._counter), lease.job.next_attempt()))

    async def release(self, lease: Lease) -> None:
        if self._in_flight.pop(lease.receipt, None) is not None:
            await self._push(lease.job)

    async def bury(self, lease: Lease, reason: str) -> None:
        if self._in_flight.pop(lease.receipt, None) is not None:
            self._dead.append(DeadLetter(lease.job, reason, time.time()))

    async def extend(self, consumer: str, leases: list[Lease]) -> None:
        pass  # nothing here is ever reclaimed: the process holding a lease is this one

    async def maintain(self, consumer: str) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, job = heapq.heappop(self._delayed)
            await self._push(job)

    async def stats(self) -> QueueStats:
        return QueueStats(
            depth=len(self._ready),
            in_flight=len(self._in_flight),
            delayed=len(self._delayed),
            dead=len(self._dead),
            retries=self._retries,
        )

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return self._dead[-limit:]

    async def close(self) -> None:
        pass
