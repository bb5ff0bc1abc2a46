"""A real Parley that lives for a whole fuzzing module, and answers blocking clients too."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

import pytest
from pydantic import SecretStr

from parley.core.settings import RateLimitMode, Settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.databases import PostgresServer, run_in_fresh_loop
from tests.support.servers import serve_in_process


@pytest.fixture(scope="module")
def module_settings(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings on a fresh PostgreSQL database of the module's own: rate limits off, and
    access tokens that outlast any run."""
    database = run_in_fresh_loop(postgres.create_database())
    workdir = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as environment:
        # Nothing from the developer's PARLEY_* variables or a stray .env.
        for name in [name for name in os.environ if name.startswith("PARLEY_")]:
            environment.delenv(name)
        environment.chdir(workdir)
        settings = Settings(
            database_url=postgres.async_url(database),
            data_dir=workdir / "data",
            secret_key=SecretStr(TEST_SECRET_KEY),
            rate_limits=RateLimitMode.OFF,
            access_token_ttl=86_400,
        )
    yield settings
    run_in_fresh_loop(postgres.drop_database(database))


@pytest.fixture(scope="module")
def module_server_url(module_settings: Settings) -> Iterator[str]:
    """Parley's production server, in this process, for the whole module: its base URL."""
    with _serve_in_thread(module_settings) as url:
        yield url


@contextmanager
def _serve_in_thread(settings: Settings) -> Iterator[str]:
    # An event loop of its own, so that the server outlives each test's loop and answers
    # blocking clients (Schemathesis, hypothesis tests) as well as async ones.
    started: Future[str] = Future()
    stopping = threading.Event()

    async def serve() -> None:
        async with serve_in_process(settings) as url:
            started.set_result(url)
            await asyncio.to_thread(stopping.wait)

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:
            if started.done():
                raise  # a crash while serving: pytest reports the thread's exception
            started.set_exception(error)

    thread = threading.Thread(target=run, name="parley-under-fuzz")
    thread.start()
    try:
        yield started.result(timeout=60)
    finally:
        stopping.set()
        thread.join(timeout=60)
