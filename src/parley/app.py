"""The application factory. Nothing connects at import time: the lifespan builds it all
(``composition/serving.py``)."""

from __future__ import annotations

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
from parley.composition.serving import serving
from parley.composition.state import AppState
from parley.core.secret_key import with_secret_key
from parley.core.settings import Settings
from parley.observability.http import RequestObservability
from parley.observability.metrics import Metrics

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = with_secret_key(settings or Settings())
    metrics = Metrics()  # a registry only: nothing connects

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, AppState]]:
        async with serving(settings, metrics) as state:
            # The server closes sockets with 1013 before it stops (see parley.server).
            app.state.hub = state.hub
            yield {"parley": state}

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
