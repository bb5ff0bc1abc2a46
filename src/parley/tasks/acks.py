"""Acking finished jobs in batches: one round trip for all the jobs that finished while the
previous batch was on its way, and a job's slot is free the moment it finishes, not one
round trip later.

A job is handed in here only once it has finished, so a crash still finds every unfinished
job unacked, to be reclaimed and run again. What batching adds is a round trip or two
between a job finishing and its ack; a crash inside it runs that job a second time, as a
crash just before an unbatched ack always could: handlers are idempotent for that reason.
"""

from __future__ import annotations

import asyncio
import logging

from parley.tasks.queue import Lease, TaskQueue

__all__ = ["AckBatcher"]

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0  # seconds, after a failed ack (Redis unreachable)


class AckBatcher:
    def __init__(self, queue: TaskQueue) -> None:
        self._queue = queue
        self._finished: list[Lease] = []
        self._sending: list[Lease] = []
        self._wake = asyncio.Event()
        self._closing = False

    def add(self, lease: Lease) -> None:
        """A job that has finished: acked with the next batch."""
        self._finished.append(lease)
        self._wake.set()

    @property
    def unacked(self) -> list[Lease]:
        """Finished jobs whose ack has not gone through: their leases are still ours."""
        return [*self._sending, *self._finished]

    def close(self) -> None:
        """``run`` acks what is left, then returns."""
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        while self._finished or not self._closing:
            if not self._finished:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._finished = self._finished, []
            self._sending = batch
            try:
                await self._queue.ack(batch)
            except Exception:
                if self._closing:
                    log.exception(
                        "stopping with %d finished jobs unacked: they will be reclaimed and run "
                        "again",
                        len(batch) + len(self._finished),
                    )
                    return
                log.exception("acking %d finished jobs failed; retrying", len(batch))
                self._finished[:0] = batch
                await asyncio.sleep(RETRY_AFTER)
            finally:
                self._sending = []
