"""The unit of work on both databases: what it commits, and what a read-only one refuses."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from parley.db.engine import create_engine, create_read_session_factory, create_session_factory
from parley.db.models import User
from parley.db.unit_of_work import UnitOfWork

pytestmark = pytest.mark.both_databases  # the database is what these test


def _user() -> User:
    name = f"u{uuid.uuid4().hex[:12]}"
    return User(username=name, display_name=name, password_hash="not a hash")


async def _users(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)
    finally:
        await engine.dispose()


async def test_a_unit_of_work_commits_what_it_was_given(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with UnitOfWork(create_session_factory(engine)) as uow:
            uow.session.add(_user())
    finally:
        await engine.dispose()
    assert await _users(database_url) == 1


async def test_a_read_only_unit_of_work_reads_and_refuses_to_drop_changes(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    reads = create_read_session_factory(engine)
    try:
        async with UnitOfWork(reads, read_only=True) as uow:
            assert await uow.session.scalar(select(func.count()).select_from(User)) == 0
        with pytest.raises(RuntimeError, match="read-only"):
            async with UnitOfWork(reads, read_only=True) as uow:
                uow.session.add(_user())
    finally:
        await engine.dispose()
    assert await _users(database_url) == 0
