"""Assembling a worker: the queue, the handlers, the processing pool and the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.settings import Settings
from parley.db.engine import SessionFactory
from parley.observability.metrics import Metrics
from parley.processing.pool import ProcessingPool
from parley.realtime.publisher import EventPublisher
from parley.repositories.upload_jobs import UploadJobs
from parley.services.upload_processing import ProcessingLimits, UploadProcessor, UploadSweeper
from parley.storage import Storage
from parley.tasks.commands import Noop, ProcessUpload, WaitProbe
from parley.tasks.dispatcher import Dispatcher
from parley.tasks.queue import TaskQueue
from parley.tasks.worker import Worker, WorkerConfig

__all__ = ["WorkerRuntime", "log_wait", "worker_runtime"]

log = logging.getLogger(__name__)

# Jobs a worker runs at once per processing process. With two, each process has its next
# file waiting: while one job claims its upload or records its outcome (round trips to the
# database and Redis), the other one's file is being decoded, so the process never idles.
JOBS_PER_PROCESS = 2


@dataclass
class WorkerRuntime:
    worker: Worker
    sweeper: UploadSweeper

    async def run(self, stop: asyncio.Event) -> None:
        sweeping = asyncio.create_task(self.sweeper.run())
        try:
            await self.worker.run(stop)
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping


async def _noop(_command: Noop) -> None:
    return None


async def log_wait(probe: WaitProbe) -> None:
    """WaitProbe's handler. It reads the clock first, so what it logs is the wait alone."""
    waited = time.time() - probe.sent_at
    log.info("wait probe waited %.6f s in the queue", waited)


@contextlib.asynccontextmanager
async def worker_runtime(
    settings: Settings,
    *,
    queue: TaskQueue,
    engine: AsyncEngine,
    session_factory: SessionFactory,
    storage: Storage,
    events: EventPublisher,
    metrics: Metrics,
    concurrency: int | None = None,
) -> AsyncIterator[WorkerRuntime]:
    concurrency = concurrency or settings.worker_concurrency
    # Decoding images and parsing PDFs is CPU work: it runs in other processes, so one big
    # file never stalls the event loop. A file may spend half a job's time of their CPU,
    # however long a loaded host takes to give it that: the job's clock is paused meanwhile
    # (``deadline.paused``), and a process holding a file ten times as long is stuck.
    pool = ProcessingPool(concurrency, cpu_seconds=settings.job_timeout / 2)
    jobs_at_once = concurrency * JOBS_PER_PROCESS
    dispatcher = Dispatcher()
    dispatcher.register(
        ProcessUpload,
        UploadProcessor(
            UploadJobs(engine),
            storage,
            events,
            pool,
            ProcessingLimits(
                lease=settings.job_reclaim_after,
                max_attempts=settings.job_max_attempts,
                max_pixels=settings.max_image_pixels,
            ),
        ),
    )
    dispatcher.register(Noop, _noop)
    dispatcher.register(WaitProbe, log_wait)
    config = WorkerConfig(
        concurrency=jobs_at_once,
        job_timeout=settings.job_timeout,
        max_attempts=settings.job_max_attempts,
        reclaim_after=settings.job_reclaim_after,
    )
    try:
        yield WorkerRuntime(
            Worker(queue, dispatcher, config, on_finished=metrics.job_finished),
            UploadSweeper(session_factory, queue, stale_after=settings.job_reclaim_after),
        )
    finally:
        # Waited for (in a thread: the event loop goes on), so that nothing of the pool is
        # left when the process ends.
        await asyncio.to_thread(pool.shutdown, wait=True)
