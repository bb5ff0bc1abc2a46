"""``parley worker``: a process that runs queue jobs until SIGTERM, then stops gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from prometheus_client import start_http_server

from parley.composition.seams import build_queue, redis_client
from parley.composition.standalone_worker import standalone_worker
from parley.core.errors import ConfigurationError
from parley.core.settings import Settings
from parley.observability.metrics import Metrics
from parley.tasks.queue import QueueStats

__all__ = ["queue_report", "run_worker"]

log = logging.getLogger("parley.worker")


async def run_worker(settings: Settings, concurrency: int | None, metrics_port: int | None) -> None:
    metrics = Metrics()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with standalone_worker(settings, metrics, concurrency=concurrency) as runtime:
        if metrics_port is not None:
            # Job counts and durations; the queue's own figures are on every instance's /metrics.
            start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
        log.info(
            "worker %s started: %d at a time", runtime.worker.consumer, runtime.worker.concurrency
        )
        await runtime.run(stop)
        log.info("worker stopped after %d jobs", runtime.worker.processed)


async def queue_report(settings: Settings, dead_letters: int) -> tuple[QueueStats, list[str]]:
    client = redis_client(settings.redis_url) if settings.redis_url else None
    if client is None:
        msg = "the queue lives in Redis: set PARLEY_REDIS_URL"
        raise ConfigurationError(msg)
    try:
        queue = build_queue(settings, client)
        stats = await queue.stats()
        letters = [
            f"{letter.job.id}  {letter.job.command.get('command')}  attempt {letter.job.attempt}: "
            f"{letter.reason}"
            for letter in await queue.dead_letters(dead_letters)
        ]
    finally:
        await client.aclose()
    return stats, letters
