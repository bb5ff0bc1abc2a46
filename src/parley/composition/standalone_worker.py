"""What `parley worker` runs: a worker with connections of its own to PostgreSQL and Redis,
which publishes its events (an upload's status, its room message) and listens to nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from parley.composition.seams import build_broker, build_queue, build_storage, redis_client
from parley.composition.worker import WorkerRuntime, worker_runtime
from parley.core.errors import ConfigurationError
from parley.core.settings import Settings
from parley.db.engine import create_engine, create_session_factory
from parley.observability.metrics import Metrics
from parley.realtime.channels import ChannelPublisher
from parley.realtime.publisher import EventPublisher

__all__ = ["standalone_worker"]


@contextlib.asynccontextmanager
async def standalone_worker(
    settings: Settings, metrics: Metrics, *, concurrency: int | None = None
) -> AsyncIterator[WorkerRuntime]:
    if settings.redis_url is None:
        msg = (
            "parley worker takes its jobs from Redis: set PARLEY_REDIS_URL. (On the embedded "
            "default, `parley serve` runs its worker itself.)"
        )
        raise ConfigurationError(msg)
    async with contextlib.AsyncExitStack() as stack:
        engine = create_engine(
            settings.effective_database_url, pool_size=settings.database_pool_size
        )
        stack.push_async_callback(engine.dispose)
        client = redis_client(settings.redis_url)
        stack.push_async_callback(client.aclose)
        # Only ever published to: its subscribing connection is never opened.
        broker = build_broker(client)
        stack.push_async_callback(broker.close)
        channels = ChannelPublisher(broker, namespace=settings.redis_namespace)
        yield await stack.enter_async_context(
            worker_runtime(
                settings,
                queue=build_queue(settings, client),
                engine=engine,
                session_factory=create_session_factory(engine),
                storage=build_storage(settings),
                events=EventPublisher(channels, metrics),
                metrics=metrics,
                concurrency=concurrency,
            )
        )
