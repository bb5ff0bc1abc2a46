"""The application factory. Nothing connects at import time: the lifespan builds it all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from parley import __version__
from parley.api.error_handlers import install_error_handlers
from parley.api.routers import auth, health, users
from parley.core.secret_key import with_secret_key
from parley.core.settings import Settings
from parley.db.engine import create_engine, create_session_factory
from parley.db.migrate import upgrade_to_head
from parley.security.passwords import PasswordHasherService
from parley.security.tokens import AccessTokenCodec
from parley.state import AppState

__all__ = ["create_app"]

STATE_KEY = "parley"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = with_secret_key(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, AppState]]:
        if settings.is_embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.effective_database_url)
        try:
            if settings.is_embedded:
                # Zero set-up: the embedded default brings its own schema up to date.
                await upgrade_to_head(engine)
            secret = settings.secret_key
            assert secret is not None  # with_secret_key guarantees it  # noqa: S101
            yield {
                STATE_KEY: AppState(
                    settings=settings,
                    engine=engine,
                    session_factory=create_session_factory(engine),
                    passwords=PasswordHasherService(),
                    access_tokens=AccessTokenCodec(
                        secret.get_secret_value(), settings.access_token_ttl
                    ),
                )
            }
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="Real-time chat and background tasks.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router, prefix="/api")
    app.include_router(users.router, prefix="/api")
    return app
