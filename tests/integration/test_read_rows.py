"""A statement that only reads, outside any session, on both databases: it sees what was
committed, and leaves nothing open behind it (SQLite's write lock least of all)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text

from parley.db.engine import create_engine, create_read_session_factory, create_session_factory
from parley.db.models import User
from parley.db.statements import read_rows
from parley.db.unit_of_work import UnitOfWork

pytestmark = pytest.mark.both_databases  # the database is what these test


def _user() -> User:
    name = f"u{uuid.uuid4().hex[:12]}"
    return User(username=name, display_name=name, password_hash="not a hash")


async def test_read_rows_sees_commits_and_holds_nothing_after(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    sessions = create_session_factory(engine)
    count = select(func.count()).select_from(User)
    try:
        assert await read_rows(engine, count, {}) == [(0,)]
        # The write needs, on PostgreSQL, the pool's one connection, which the read used;
        # on SQLite, the write lock the read's transaction took. Neither may still be held.
        async with UnitOfWork(sessions) as uow:
            uow.session.add(_user())
        assert await read_rows(engine, count, {}) == [(1,)]
        names = await read_rows(engine, text("SELECT username FROM users"), {})
        assert len(names) == 1
    finally:
        await engine.dispose()


async def test_reads_go_on_beside_a_writer_and_see_the_last_commit(database_url: str) -> None:
    """A writer's transaction is open (on SQLite, holding the write lock); reads outside any
    session and in read sessions neither wait for it nor see what it has not committed."""
    engine = create_engine(database_url)
    sessions, reads = create_session_factory(engine), create_read_session_factory(engine)
    count = select(func.count()).select_from(User)
    try:
        async with UnitOfWork(sessions) as uow:
            uow.session.add(_user())
            await uow.session.flush()
            # SQLite's busy_timeout is 30 s: a read queued behind the writer would not make it.
            async with asyncio.timeout(5):
                assert await read_rows(engine, count, {}) == [(0,)]
                async with reads() as session:
                    assert await session.scalar(count) == 0
        assert await read_rows(engine, count, {}) == [(1,)]
    finally:
        await engine.dispose()
