"""The ``parley`` command as an operator runs it: real processes, real databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx

from tests.support.commands import PARLEY, parley_env, run_parley
from tests.support.ports import free_port
from tests.support.processes import wait_until_ready


def test_serve_refuses_a_cluster_config_without_a_key(postgres_url: str) -> None:
    result = run_parley("serve", PARLEY_DATABASE_URL=postgres_url)
    assert result.returncode == 2
    assert "PARLEY_SECRET_KEY is not set" in result.stderr


def test_worker_stops_at_once_on_a_task_module_it_cannot_find(postgres_url: str) -> None:
    result = run_parley(
        "worker",
        "--tasks",
        "parley_test_no_such_tasks",
        PARLEY_DATABASE_URL=postgres_url,
        PARLEY_REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 2, result.stderr
    assert "parley: the task module 'parley_test_no_such_tasks'" in result.stderr
    assert "cannot be found" in result.stderr


def test_serve_stops_at_once_on_a_task_module_its_worker_cannot_find(tmp_path: Path) -> None:
    result = run_parley(
        "serve",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        PARLEY_TASK_MODULES="parley_test_no_such_tasks",
    )
    assert result.returncode == 2, result.stderr
    assert "parley: the task module 'parley_test_no_such_tasks'" in result.stderr


def test_worker_refuses_a_task_module_that_is_not_a_module_name() -> None:
    result = run_parley("worker", "--tasks", "my-tasks")
    assert result.returncode == 2
    assert "not a dotted module name like 'myapp.tasks': 'my-tasks'" in result.stderr


async def test_serve_runs_the_embedded_default_with_nothing_configured(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *PARLEY, "serve", "--port", str(port), env=parley_env(), cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_until_ready(f"http://127.0.0.1:{port}", process)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            assert (await client.get("/docs")).status_code == 200
        # The embedded default made its own database and signing key under ./.parley.
        assert (tmp_path / ".parley" / "parley.db").exists()
        assert (tmp_path / ".parley" / "secret_key").exists()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def test_migrate_builds_the_schema_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    plain_url = postgres_url.replace("+asyncpg", "")
    connection = await asyncpg.connect(plain_url)
    try:
        # Start from an empty database: drop what the template gave us.
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()
    migrate = await asyncio.create_subprocess_exec(
        *PARLEY,
        "migrate",
        env=parley_env(PARLEY_DATABASE_URL=postgres_url),
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(migrate.communicate(), timeout=60)
    assert migrate.returncode == 0, stderr.decode()
    connection = await asyncpg.connect(plain_url)
    try:
        tables = {
            row["tablename"]
            for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    finally:
        await connection.close()
    assert {"users", "refresh_tokens", "rooms", "memberships", "messages", "uploads"} <= tables
