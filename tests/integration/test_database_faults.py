"""The database away, missing or broken, as HTTP clients and the operator's log see it.

An outage is 503 ``unavailable`` with ``Retry-After``: the client's cue to try again. A
statement the database refuses is a server fault: 500, and its traceback in the log under
the request's id, never a silent answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from parley.core.settings import RateLimitMode, Settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.databases import PostgresServer
from tests.support.ports import free_port
from tests.support.servers import serve_in_process

REGISTRATION = {"username": "alice", "password": "correct horse battery"}


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SecretStr(TEST_SECRET_KEY),
        rate_limits=RateLimitMode.OFF,
    )


@pytest.fixture(params=["refused", "missing"])
async def unreachable_database(
    request: pytest.FixtureRequest, postgres: PostgresServer
) -> AsyncIterator[str]:
    """A server that refuses connections, or a database that does not exist."""
    if request.param == "refused":
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/parley"
        return
    name = await postgres.create_empty_database()
    await postgres.drop_database(name)
    yield postgres.async_url(name)


async def test_a_database_that_cannot_be_reached_answers_503_unavailable(
    unreachable_database: str, tmp_path: Path
) -> None:
    url = unreachable_database
    async with (
        serve_in_process(_settings(url, tmp_path)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        response = await client.post("/api/auth/register", json=REGISTRATION)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error": "unavailable",
        "detail": "The database is unreachable; try again shortly.",
    }


async def test_a_statement_the_database_refuses_is_500_and_logged_with_the_request_id(
    postgres: PostgresServer, postgres_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    database = postgres_url.rpartition("/")[2]
    async with (
        serve_in_process(_settings(postgres_url, tmp_path)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        # The schema broken behind the running server's back: a fault of ours, not an outage.
        await postgres.execute(database, "DROP TABLE users CASCADE")
        response = await client.post("/api/auth/register", json=REGISTRATION)
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    request_id = response.headers["x-request-id"]
    logged = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    errors = [entry for entry in logged if entry["level"] == "error"]
    assert [entry.get("request_id") for entry in errors] == [request_id]
    assert 'relation "users" does not exist' in errors[0]["error"]
