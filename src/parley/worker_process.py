"""``parley worker``: a process that runs queue jobs until SIGTERM, then stops gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from prometheus_client import start_http_server

from parley.core.errors import ConfigurationError
from parley.core.settings import Settings
from parley.db.engine import create_engine, create_session_factory
from parley.infrastructure import build_queue, build_storage, redis_client
from parley.observability.metrics import Metrics
from parley.realtime.history import History
from parley.realtime.hub import Hub
from parley.realtime.publisher import EventPublisher
from parley.realtime.redis_broker import RedisBroker
from parley.repositories.message_pages import MessagePages
from parley.tasks.queue import QueueStats
from parley.tasks.runtime import worker_runtime

__all__ = ["queue_report", "run_worker"]

log = logging.getLogger("parley.worker")


async def run_worker(settings: Settings, concurrency: int | None, metrics_port: int | None) -> None:
    if settings.redis_url is None:
        msg = (
            "parley worker takes its jobs from Redis: set PARLEY_REDIS_URL. (On the embedded "
            "default, `parley serve` runs its worker itself.)"
        )
        raise ConfigurationError(msg)
    engine = create_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    client = redis_client(settings.redis_url)
    session_factory = create_session_factory(engine)
    broker = RedisBroker(client)
    metrics = Metrics()
    if metrics_port is not None:
        # Job counts and durations; the queue's own figures are on every instance's /metrics.
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
    # The worker only publishes (upload events, room messages); it listens to nothing.
    events = EventPublisher(
        Hub(
            broker,
            History(session_factory, MessagePages(engine)),
            namespace=settings.redis_namespace,
        ),
        metrics,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with worker_runtime(
            settings,
            queue=build_queue(settings, client),
            engine=engine,
            session_factory=session_factory,
            storage=build_storage(settings),
            events=events,
            metrics=metrics,
            concurrency=concurrency,
        ) as runtime:
            log.info(
                "worker %s started: %d at a time",
                runtime.worker.consumer,
                runtime.worker.concurrency,
            )
            await runtime.run(stop)
            log.info("worker stopped after %d jobs", runtime.worker.processed)
    finally:
        await broker.close()
        await client.aclose()
        await engine.dispose()


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
