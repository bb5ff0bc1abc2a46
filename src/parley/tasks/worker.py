"""The worker: claims jobs, runs each under a timeout, and acks, retries or buries it.

A busy worker's costs are round trips to the queue, so it pays them per batch: finished jobs
are acked together (``AckBatcher``), and jobs that take little time are claimed ahead of
the free slots (``ClaimAhead``), the next batch on its way while this one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from parley.tasks.acks import AckBatcher
from parley.tasks.claim_ahead import ClaimAhead
from parley.tasks.commands import UnknownCommandError, decode_command
from parley.tasks.deadline import job_deadline
from parley.tasks.dispatcher import Dispatcher
from parley.tasks.queue import Lease, TaskQueue

__all__ = ["Worker", "WorkerConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    concurrency: int = 4
    job_timeout: float = 120.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    reclaim_after: float = 30.0
    grace_period: float = 20.0
    maintenance_interval: float = 1.0
    claim_wait: float = 0.5  # how long one claim waits for a job to arrive
    claim_ahead_horizon: float = 0.05  # claim ahead what the slots would start within this
    claim_ahead_limit: int = 32


class Worker:
    """Runs up to ``concurrency`` jobs at once until ``stop`` is set.

    Shutdown (SIGTERM): stop claiming, give back at once the jobs claimed ahead and not
    started, give the jobs in hand ``grace_period`` seconds to finish, then cancel the rest
    and release them, so another worker takes them at once. A SIGKILL loses nothing either:
    every job claimed and not yet acked, started or not, is reclaimed after ``reclaim_after``.
    """

    def __init__(
        self,
        queue: TaskQueue,
        dispatcher: Dispatcher,
        config: WorkerConfig,
        *,
        consumer: str | None = None,
        on_finished: Callable[[str, float], None] = lambda _outcome, _seconds: None,
    ) -> None:
        self._queue = queue
        self._dispatcher = dispatcher
        self._config = config
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._slot_freed = asyncio.Event()
        self._on_finished = on_finished
        self.concurrency = config.concurrency
        self._ready: deque[Lease] = deque()  # claimed ahead, not started
        self._running: dict[asyncio.Task[None], Lease] = {}
        self._acks = AckBatcher(queue)
        self._ahead = ClaimAhead(
            config.concurrency, config.claim_ahead_horizon, config.claim_ahead_limit
        )
        self.processed = 0

    async def run(self, stop: asyncio.Event) -> None:
        finished = asyncio.Event()
        # Helpers end by events, not cancellation: a Redis call cut off mid-way can leave
        # its connection unusable, and some client code swallows the cancellation.
        maintenance = asyncio.create_task(self._maintain_until(finished))
        acking = asyncio.create_task(self._acks.run())
        waker = asyncio.create_task(self._wake_when(stop))
        try:
            await self._claim_until(stop)
            await self._give_back_unstarted()
            await self._drain()
        finally:
            self._acks.close()  # it acks the jobs that finished, then ends
            finished.set()
            waker.cancel()
            await asyncio.gather(acking, maintenance, waker, return_exceptions=True)

    async def _wake_when(self, stop: asyncio.Event) -> None:
        # A claim loop waiting for a free slot must also notice that it should stop.
        await stop.wait()
        self._slot_freed.set()

    async def _claim_until(self, stop: asyncio.Event) -> None:
        # One claim at a time: while it is on its way, the jobs claimed ahead keep the slots
        # busy, and the next claim asks for as many as have finished meanwhile.
        while not stop.is_set():
            held = len(self._running) + len(self._ready)
            wanted = self._config.concurrency + self._ahead.count() - held
            if wanted <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            try:
                leases = await self._queue.claim(
                    self.consumer, wanted, wait=self._config.claim_wait
                )
            except Exception:
                log.exception("claiming jobs failed; retrying")
                await asyncio.sleep(1)
                continue
            self._ready.extend(leases)
            self._start_ready()
            # The jobs just started go first: sending the next claim takes a while, and an
            # idle worker's latency is the time from a claim's answer to its job's start.
            await asyncio.sleep(0)

    def _start_ready(self) -> None:
        while self._ready and len(self._running) < self._config.concurrency:
            lease = self._ready.popleft()
            task = asyncio.create_task(self._run(lease))
            self._running[task] = lease
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._start_ready()  # at once, not when the claim loop next looks
        self._slot_freed.set()

    async def _give_back_unstarted(self) -> None:
        unstarted = list(self._ready)
        self._ready.clear()  # and so nothing more starts
        for lease in unstarted:
            try:
                await self._queue.release(lease)
            except Exception:
                log.exception("could not give back job %s; it will be reclaimed", lease.job.id)

    async def _drain(self) -> None:
        if not self._running:
            return
        log.info(
            "stopping: waiting up to %.0fs for %d jobs",
            self._config.grace_period,
            len(self._running),
        )
        _, unfinished = await asyncio.wait(list(self._running), timeout=self._config.grace_period)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    async def _run(self, lease: Lease) -> None:
        job = lease.job
        started = time.perf_counter()
        try:
            if job.attempt > self._config.max_attempts:
                await self._queue.bury(lease, f"gave up after {job.attempt - 1} attempts")
                return
            command = decode_command(job.command)
            # The job's own steps are timed; work it hands to a pool with limits of its own
            # (a file's CPU) pauses the clock (``deadline.paused``).
            async with job_deadline(self._config.job_timeout):
                await self._dispatcher.dispatch(command)
        except asyncio.CancelledError:
            # Shutting down past the grace period: hand the job back untouched.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._queue.release(lease))
            raise
        except UnknownCommandError as error:
            log.warning("job %s cannot run: %s", job.id, error)
            await self._queue.bury(lease, str(error))
            self._record("unknown", started)
        except Exception as error:  # noqa: BLE001  (any failure of a job is retried)
            await self._failed(lease, error)
            self._record("failed", started)
        else:
            self._acks.add(lease)  # finished: the slot is free now, the ack goes in a batch
            self.processed += 1
            self._record("done", started)

    def _record(self, outcome: str, started: float) -> None:
        seconds = time.perf_counter() - started
        self._ahead.observe(seconds)
        self._on_finished(outcome, seconds)

    async def _failed(self, lease: Lease, error: Exception) -> None:
        job = lease.job
        reason = (
            "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
        )
        if job.attempt >= self._config.max_attempts:
            log.warning("job %s failed for good after %d attempts: %s", job.id, job.attempt, reason)
            await self._queue.bury(lease, reason)
            return
        delay = self.backoff(job.attempt)
        log.info(
            "job %s attempt %d failed (%s); retrying in %.1fs", job.id, job.attempt, reason, delay
        )
        await self._queue.retry(lease, delay)

    def backoff(self, attempt: int) -> float:
        """Exponential, capped, with full jitter: retries of many jobs do not move in step."""
        ceiling = min(self._config.backoff_max, self._config.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311  (jitter, not security)

    async def _maintain_until(self, finished: asyncio.Event) -> None:
        last_extend = 0.0
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.maintenance_interval):
                    await finished.wait()
                    return
            try:
                await self._queue.maintain(self.consumer)
                if time.monotonic() - last_extend > self._config.reclaim_after / 3:
                    held = [*self._running.values(), *self._ready, *self._acks.unacked]
                    await self._queue.extend(self.consumer, held)
                    last_extend = time.monotonic()
            except Exception:
                log.exception("queue maintenance failed; retrying")
