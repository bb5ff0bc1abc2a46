"""What `parley serve` runs beside its routes: the state every request reads, the hub's
listener, presence, and (on the embedded default, or when asked) a worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from parley.composition.seams import (
    PRESENCE_TTL_SECONDS,
    build_broker,
    build_presence,
    build_queue,
    build_rate_limiter,
    build_storage,
    redis_client,
)
from parley.composition.state import AppState, RateRules
from parley.composition.worker import worker_runtime
from parley.core.private_files import prepare_data_dir
from parley.core.settings import Settings
from parley.db.engine import create_engine, create_read_session_factory, create_session_factory
from parley.db.migrate import upgrade_to_head
from parley.observability.metrics import Metrics
from parley.realtime.channels import ChannelPublisher
from parley.realtime.connection import CLOSE_TRY_AGAIN_LATER
from parley.realtime.history import History
from parley.realtime.hub import Hub
from parley.realtime.presence_tracker import PresenceTracker
from parley.realtime.publisher import EventPublisher
from parley.repositories.message_appends import MessageAppends
from parley.repositories.message_pages import MessagePages
from parley.security.passwords import PasswordHasherService
from parley.security.tokens import AccessTokenCodec

__all__ = ["serving"]


@contextlib.asynccontextmanager
async def serving(settings: Settings, metrics: Metrics) -> AsyncIterator[AppState]:
    """The app's state, with everything that runs beside the requests running; on the way
    out, sockets are closed with 1013 first, then the worker finishes, then the rest stops."""
    async with contextlib.AsyncExitStack() as stack:
        state = await _build_state(settings, metrics, stack)
        tasks = [
            asyncio.create_task(state.hub.run(), name="hub-listener"),
            asyncio.create_task(state.presence.run(), name="presence"),
        ]
        stop_worker = asyncio.Event()
        if settings.serves_worker:
            runtime = await stack.enter_async_context(
                worker_runtime(
                    settings,
                    queue=state.queue,
                    engine=state.engine,
                    session_factory=state.session_factory,
                    storage=state.storage,
                    events=state.events,
                    metrics=state.metrics,
                )
            )
            worker = asyncio.create_task(runtime.run(stop_worker), name="worker")
        try:
            yield state
        finally:
            await state.hub.close_all(CLOSE_TRY_AGAIN_LATER, "server shutting down")
            if settings.serves_worker:
                stop_worker.set()
                await worker
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _build_state(
    settings: Settings, metrics: Metrics, stack: contextlib.AsyncExitStack
) -> AppState:
    if settings.is_embedded:
        # Private (0700, its files 0600), and the database made 0600 before SQLite opens it.
        await asyncio.to_thread(prepare_data_dir, settings)
    engine = create_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    stack.push_async_callback(engine.dispose)
    if settings.is_embedded:
        # Zero set-up: the embedded default brings its own schema up to date.
        await upgrade_to_head(engine)
    client = redis_client(settings.redis_url) if settings.redis_url else None
    if client is not None:
        stack.push_async_callback(client.aclose)
    session_factory = create_session_factory(engine)
    read_session_factory = create_read_session_factory(engine)
    broker = build_broker(client)
    await broker.start()
    stack.push_async_callback(broker.close)
    appends = MessageAppends(engine) if engine.dialect.name == "postgresql" else None
    if appends is not None:
        stack.push_async_callback(appends.close)
    pages = MessagePages(engine)
    history = History(read_session_factory, pages)
    hub = Hub(broker, history, namespace=settings.redis_namespace, on_delivered=metrics.delivered)
    events = EventPublisher(ChannelPublisher(broker, namespace=settings.redis_namespace), metrics)
    secret = settings.secret_key
    assert secret is not None  # with_secret_key guarantees it  # noqa: S101
    return AppState(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        read_session_factory=read_session_factory,
        appends=appends,
        pages=pages,
        passwords=PasswordHasherService(),
        access_tokens=AccessTokenCodec(secret.get_secret_value(), settings.access_token_ttl),
        broker=broker,
        hub=hub,
        history=history,
        events=events,
        presence=PresenceTracker(
            build_presence(settings, client),
            hub,
            events,
            read_session_factory,
            max_room_size=settings.presence_max_room_size,
            refresh_interval=PRESENCE_TTL_SECONDS / 4,
        ),
        queue=build_queue(settings, client),
        storage=build_storage(settings),
        metrics=metrics,
        limiter=build_rate_limiter(settings, client),
        rules=RateRules.of(settings),
    )
