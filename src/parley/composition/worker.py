"""Assembling a worker, in `parley serve` (the embedded default) or `parley worker`: the
queue, the handlers (Parley's own and the task modules'), the processing pool and the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from parley.composition.task_modules import import_task_modules
from parley.core.settings import Settings
from parley.db.engine import SessionFactory
from parley.observability.metrics import Metrics
from parley.processing.pool import ProcessingPool
from parley.realtime.publisher import EventPublisher
from parley.repositories.upload_jobs import UploadJobs
from parley.services.upload_processing import ProcessingLimits, UploadProcessor, UploadSweeper
from parley.storage import Storage
from parley.tasks.commands import ProcessUpload
from parley.tasks.dispatcher import Dispatcher
from parley.tasks.handlers import registered_handlers
from parley.tasks.queue import TaskQueue
from parley.tasks.worker import Worker, WorkerConfig

__all__ = ["WorkerRuntime", "worker_runtime"]

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
    # First, so that a module that cannot be imported stops the worker before it starts a pool.
    import_task_modules(settings.task_modules)
    # Decoding images and parsing PDFs is CPU work: it runs in other processes, so one big
    # file never stalls the event loop. A file may spend half a job's time of their CPU,
    # however long a loaded host takes to give it that: the job's clock is paused meanwhile
    # (``deadline.paused``), and a process holding a file ten times as long is stuck.
    pool = ProcessingPool(concurrency, cpu_seconds=settings.job_timeout / 2)
    jobs_at_once = concurrency * JOBS_PER_PROCESS
    dispatcher = Dispatcher()
    for command, handler in registered_handlers().items():
        dispatcher.register(command, handler)
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
