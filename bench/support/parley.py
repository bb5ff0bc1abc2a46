"""A real Parley to measure: ``parley serve`` processes on a fresh PostgreSQL database and a
private Redis key space, plus accounts and rooms made through the public API."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import redis.asyncio as redis

from tests.support.databases import PostgresServer
from tests.support.factories import Account, Json, create_account, create_room
from tests.support.processes import Cluster

__all__ = [
    "REDIS_URL",
    "Account",
    "accounts",
    "create_room",
    "join",
    "new_room",
    "parley_cluster",
    "postgres_database",
]

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, migrated database; its async SQLAlchemy URL."""
    server = PostgresServer()
    await server.create_template()
    name = await server.create_database()
    try:
        yield server.async_url(name)
    finally:
        await server.drop_database(name)
        await server.drop_database(server.template)


async def _forget_namespace(namespace: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        async for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def parley_cluster(
    workdir: Path, instances: int, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Cluster]:
    """``instances`` ``parley serve`` processes (no in-process worker unless asked for)."""
    env = {"PARLEY_RUN_WORKER": "false", "PARLEY_ACCESS_TOKEN_TTL": "3600"}
    env.update(extra_env or {})
    async with postgres_database() as database_url:
        cluster = Cluster(database_url, REDIS_URL, workdir, extra_env=env)
        try:
            await cluster.start(instances)
            yield cluster
        finally:
            await cluster.close()
            await _forget_namespace(cluster.namespace)


async def accounts(base_url: str, count: int, *, parallel: int = 8) -> list[Account]:
    """``count`` new accounts, made ``parallel`` at a time (password hashing is slow on purpose)."""
    gate = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def one() -> Account:
            async with gate:
                return await create_account(client)

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def join(base_url: str, room: Json, members: list[Account]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for member in members:
            response = await client.post(f"/api/rooms/{room['id']}/join", headers=member.headers)
            response.raise_for_status()


async def new_room(base_url: str, owner: Account, name: str = "bench") -> Json:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return await create_room(client, owner, name)
