"""Fixtures shared by every test: isolated settings, real databases, a real server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from parley.core.settings import RateLimitMode, Settings
from tests.support.async_deadlines import give_async_tests_a_deadline
from tests.support.databases import (
    PostgresServer,
    copy_sqlite,
    migrate_sqlite_file,
    run_in_fresh_loop,
)
from tests.support.processes import RedisServer
from tests.support.servers import serve_in_process
from tests.support.ws import WsClient

TEST_SECRET_KEY = "test-secret-key-long-enough-for-hs256-and-for-hs512-too-0123456789"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's PARLEY_* variables or a stray ``.env``."""
    for name in list(os.environ):
        if name.startswith("PARLEY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
async def _close_websockets() -> AsyncIterator[None]:
    yield
    await WsClient.close_all()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A Redis of this test's own, which it may kill and restart."""
    redis = RedisServer(tmp_path)
    await redis.start()
    yield redis
    await redis.kill()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    run_in_fresh_loop(server.create_template())
    yield server
    run_in_fresh_loop(server.drop_database(server.template))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    run_in_fresh_loop(migrate_sqlite_file(path))
    return path


@pytest.fixture
async def postgres_url(postgres: PostgresServer) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for this test alone."""
    name = await postgres.create_database()
    yield postgres.async_url(name)
    await postgres.drop_database(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """PostgreSQL for every test; SQLite as well where the database is what is tested
    (marked ``both_databases``): an HTTP or socket rule runs the same on either."""
    if "database_kind" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_databases") is not None
        metafunc.parametrize("database_kind", ["postgres", "sqlite"] if both else ["postgres"])


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database_kind: str, tmp_path: Path) -> str:
    """A fresh, migrated database of ``database_kind`` for this test alone."""
    if database_kind == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    path = tmp_path / "parley.db"
    copy_sqlite(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Limits off: tests sign in far more often than a person; the rate-limit tests turn them on.
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SecretStr(TEST_SECRET_KEY),
        rate_limits=RateLimitMode.OFF,
    )


@pytest.fixture
async def server_url(settings: Settings) -> AsyncIterator[str]:
    async with serve_in_process(settings) as url:
        yield url


@pytest.fixture
async def client(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, timeout=30) as client:
        yield client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    give_async_tests_a_deadline(items, float(config.getini("timeout")))


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a test that did not run: the suite fails rather than hide it."""
    if _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\n{len(_skipped)} test(s) skipped; every test must run:", *_skipped, sep="\n  ")  # noqa: T201
