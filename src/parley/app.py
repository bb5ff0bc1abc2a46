"""The application factory. Nothing connects at import time: the lifespan builds it all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.staticfiles import StaticFiles

from parley import __version__
from parley.api import websocket
from parley.api.body_limit import BodyLimits
from parley.api.error_handlers import install_error_handlers
from parley.api.openapi import install_openapi
from parley.api.routers import auth, docs, health, messages, rooms, uploads, users, web
from parley.core.private_files import prepare_data_dir
from parley.core.secret_key import with_secret_key
from parley.core.settings import Settings
from parley.db.engine import create_engine, create_read_session_factory, create_session_factory
from parley.db.migrate import upgrade_to_head
from parley.infrastructure import (
    PRESENCE_TTL_SECONDS,
    build_broker,
    build_presence,
    build_queue,
    build_rate_limiter,
    build_storage,
    redis_client,
)
from parley.observability.http import RequestObservability
from parley.observability.metrics import Metrics
from parley.realtime.connection import CLOSE_TRY_AGAIN_LATER
from parley.realtime.history import History
from parley.realtime.hub import Hub
from parley.realtime.presence_tracker import PresenceTracker
from parley.realtime.publisher import EventPublisher
from parley.repositories.message_appends import MessageAppends
from parley.repositories.message_pages import MessagePages
from parley.security.passwords import PasswordHasherService
from parley.security.tokens import AccessTokenCodec
from parley.state import AppState, RateRules
from parley.tasks.runtime import worker_runtime

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = with_secret_key(settings or Settings())
    metrics = Metrics()  # a registry only: nothing connects

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, AppState]]:
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
            # The server closes sockets with 1013 before it stops (see parley.server).
            app.state.hub = state.hub
            try:
                yield {"parley": state}
            finally:
                await state.hub.close_all(CLOSE_TRY_AGAIN_LATER, "server shutting down")
                if settings.serves_worker:
                    stop_worker.set()
                    await worker
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="Real-time chat and background tasks.",
        lifespan=lifespan,
        docs_url=None,  # served from the package's own assets, below (``routers/docs.py``)
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,
        # A redirect to the path with(out) its trailing slash is built from the Host header,
        # which a client chooses: the API answers 404 instead of sending anyone elsewhere.
        redirect_slashes=False,
    )
    install_error_handlers(app)
    # Inside the observability, so that its 413s and 408s are logged and counted as any.
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout,
        upload_min_rate=settings.upload_min_rate,
    )
    app.add_middleware(RequestObservability, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        )
    if settings.trusted_hosts != ["*"]:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    app.include_router(health.router)
    for router in (auth.router, users.router, rooms.router, messages.router, uploads.router):
        app.include_router(router, prefix="/api")
    app.include_router(websocket.router)
    app.include_router(web.router)
    install_openapi(app)
    if settings.api_docs:
        app.include_router(docs.router)
        app.mount(docs.ASSETS_PATH, docs.assets(), name="docs-assets")
    app.mount("/static", StaticFiles(directory=web.WEB_DIR), name="static")
    return app


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
    events = EventPublisher(hub, metrics)
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
