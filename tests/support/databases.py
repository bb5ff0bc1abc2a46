"""Throw-away databases: PostgreSQL from a migrated template, SQLite from a migrated file."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from parley.db.engine import create_engine
from parley.db.migrate import upgrade_to_head

__all__ = ["PostgresServer", "copy_sqlite", "migrate_sqlite_file", "run_in_fresh_loop"]

T = TypeVar("T")

# The server the tests create their databases on (trust auth on this machine).
POSTGRES_SERVER_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")


class PostgresServer:
    """Creates one migrated template database, then a fresh copy of it for each test."""

    def __init__(self, server_url: str = POSTGRES_SERVER_URL) -> None:
        self.server_url = server_url
        self.template = f"parley_template_{uuid.uuid4().hex[:12]}"

    def async_url(self, database: str) -> str:
        return f"{self.server_url.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(f"{self.server_url}/postgres")

    async def create_template(self) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await admin.close()
        engine = create_engine(self.async_url(self.template), pool_size=1)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    async def create_database(self) -> str:
        name = f"parley_test_{uuid.uuid4().hex[:12]}"
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        return name

    async def create_empty_database(self) -> str:
        """A database with no schema at all, as ``createdb`` leaves it."""
        name = f"parley_empty_{uuid.uuid4().hex[:12]}"
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return name

    async def execute(self, database: str, statement: str) -> None:
        """Run one statement in ``database`` as its owner, behind the app's back."""
        connection = await asyncpg.connect(f"{self.server_url}/{database}")
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    async def drop_database(self, name: str) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def run_in_fresh_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, even while an event loop is running here
    (session fixtures may be set up from inside a test's loop)."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, main).result()


async def migrate_sqlite_file(path: Path) -> None:
    """Build a migrated SQLite file once; tests copy it (see ``copy_sqlite``)."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


def copy_sqlite(template: Path, target: Path) -> None:
    shutil.copyfile(template, target)
