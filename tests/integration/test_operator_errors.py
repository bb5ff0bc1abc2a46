"""What an operator sees when something is wrong: the real ``parley`` command, its message
and its exit code. One or two lines saying what to do, never a traceback."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from parley.core.settings import RateLimitMode, Settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.commands import PARLEY, parley_env, run_parley
from tests.support.databases import PostgresServer
from tests.support.ports import free_port
from tests.support.processes import wait_until_ready
from tests.support.servers import serve_in_process


def _said(result: subprocess.CompletedProcess[str]) -> str:
    """What the command said, checked to be a message and not a traceback."""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


async def _unmigrated(postgres: PostgresServer) -> str:
    return postgres.async_url(await postgres.create_empty_database())


async def test_migrate_says_how_to_create_a_missing_database(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.async_url("parley_no_such_database")
    result = run_parley("migrate", cwd=tmp_path, PARLEY_DATABASE_URL=url)
    assert result.returncode == 1
    assert _said(result) == (
        'parley: database "parley_no_such_database" does not exist on 127.0.0.1:5432: create it'
        " with `createdb -h 127.0.0.1 -p 5432 -U postgres parley_no_such_database`, then run"
        " `parley migrate`.\n"
    )


async def test_serve_does_not_start_on_a_missing_database(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.async_url("parley_no_such_database")
    result = run_parley(
        "serve", "--port", str(free_port()), cwd=tmp_path,
        PARLEY_DATABASE_URL=url, PARLEY_SECRET_KEY=TEST_SECRET_KEY,
    )  # fmt: skip
    assert result.returncode == 1
    assert _said(result).startswith('parley: database "parley_no_such_database" does not exist')


def test_migrate_says_when_postgres_is_not_listening(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/parley"
    result = run_parley("migrate", cwd=tmp_path, PARLEY_DATABASE_URL=url)
    assert result.returncode == 1
    said = _said(result)
    assert said.startswith(f"parley: cannot connect to PostgreSQL at 127.0.0.1:{port}")
    assert said.endswith("is it running, and is PARLEY_DATABASE_URL its address?\n")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
async def test_urls_without_a_driver_mean_asyncpg(
    scheme: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    url = (await _unmigrated(postgres)).replace("postgresql+asyncpg", scheme)
    result = run_parley("migrate", cwd=tmp_path, PARLEY_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "parley: the database schema is up to date\n"


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        (
            {"PARLEY_DATABASE_URL": "postgresql://me:s3cret@db:port/parley"},
            (
                "parley: PARLEY_DATABASE_URL='postgresql://me:***@db:port/parley' is not valid: "
                "the URL's port is not a number\n"
            ),
        ),
        (
            {"PARLEY_DATABASE_URL": "mysql://db/parley"},
            (
                "parley: PARLEY_DATABASE_URL='mysql://db/parley' is not valid: "
                "Parley does not speak 'mysql': use postgresql+asyncpg://USER@HOST:PORT/DATABASE "
                "(postgres:// and postgresql:// are taken to mean that) or "
                "sqlite+aiosqlite:///PATH\n"
            ),
        ),
        (
            {"PARLEY_ACCESS_TOKEN_TTL": "abc"},
            (
                "parley: PARLEY_ACCESS_TOKEN_TTL='abc' is not valid: Input should be a valid "
                "integer, unable to parse string as an integer\n"
            ),
        ),
        (
            {"PARLEY_REDIS_URL": "localhost:6379"},
            (
                "parley: PARLEY_REDIS_URL='localhost:6379' is not valid: not a Redis URL: expected "
                "redis://HOST:PORT/DB, rediss://… (TLS) or unix:///PATH\n"
            ),
        ),
    ],
    ids=["unparsable-url", "foreign-driver", "ttl", "redis-url"],
)
def test_an_invalid_setting_is_named_with_its_fault(
    variables: dict[str, str], said: str, tmp_path: Path
) -> None:
    result = run_parley("migrate", cwd=tmp_path, **variables)
    assert result.returncode == 2
    assert _said(result) == said


def test_queue_says_when_redis_is_not_there(tmp_path: Path) -> None:
    port = free_port()
    result = run_parley("queue", cwd=tmp_path, PARLEY_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert result.returncode == 1
    said = _said(result)
    assert said.startswith(f"parley: cannot reach Redis at 127.0.0.1:{port} (")
    assert said.endswith("is it running, and is PARLEY_REDIS_URL its address?\n")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("queue", "--dead", "-1"), "argument --dead: -1 is out of range: 0 to 1000"),
        (("worker", "--concurrency", "0"), "argument --concurrency: 0 is out of range: 1 to 256"),
        (("serve", "--port", "99999"), "argument --port: 99999 is out of range: 1 to 65535"),
        (("serve", "--port", "http"), "argument --port: 'http' is not a whole number"),
    ],
)
def test_options_out_of_range_are_refused(args: tuple[str, ...], said: str, tmp_path: Path) -> None:
    result = run_parley(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(said)
    assert "Traceback" not in result.stderr


async def test_serve_refuses_a_schema_behind_the_code_unless_told_to_migrate(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = await _unmigrated(postgres)
    settings = {"PARLEY_DATABASE_URL": url, "PARLEY_SECRET_KEY": TEST_SECRET_KEY}
    refused = run_parley("serve", "--port", str(free_port()), cwd=tmp_path, **settings)
    assert refused.returncode == 2
    said = _said(refused)
    assert said.startswith("parley: the database has no schema; this Parley needs revision ")
    assert said.endswith(": run `parley migrate` (or `parley serve --migrate`) first.\n")

    port = free_port()
    env = parley_env(**settings)
    serving = await asyncio.create_subprocess_exec(
        *PARLEY, "serve", "--migrate", "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ready = await wait_until_ready(f"http://127.0.0.1:{port}", serving)
        assert ready.json()["checks"] == {"database": "ok", "schema": "ok"}
    finally:
        serving.terminate()
        await serving.wait()


async def test_readiness_names_the_revision_it_found(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=await _unmigrated(postgres),
        data_dir=tmp_path / "data",
        secret_key=SecretStr(TEST_SECRET_KEY),
        rate_limits=RateLimitMode.OFF,
    )
    async with serve_in_process(settings) as url, httpx.AsyncClient(base_url=url) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    schema = ready.json()["checks"]["schema"]
    assert schema.startswith("the database has no schema; this Parley needs revision ")


def test_help_is_plain_text(tmp_path: Path) -> None:
    result = run_parley("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "``" not in result.stdout
    assert result.stdout.startswith("usage: parley [-h] COMMAND ...")
