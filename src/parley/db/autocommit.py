"""A self-committing statement on a pooled connection, outside any session; and a statement
that only reads, likewise.

The asyncio facade of SQLAlchemy runs each step (check out a connection, set its options,
execute, return it) in a greenlet of its own, and an ``AsyncSession`` adds its transaction
bookkeeping on top: for a single short statement that costs more CPU than PostgreSQL spends
running it. Here the same steps run through SQLAlchemy's synchronous Core API inside one
greenlet, which is how its asyncio extension works underneath. Nothing is lost on the way:
errors are translated to ``sqlalchemy.exc`` as ever, and a connection found broken is
invalidated in the pool.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

__all__ = ["autocommit_rows", "autocommit_scalar", "read_rows"]


async def autocommit_scalar(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any]
) -> Any:
    """The first column of the first row of ``statement``, committed as it ran."""
    return await greenlet_spawn(_scalar, engine.sync_engine, statement, parameters)


async def autocommit_rows(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any]
) -> Sequence[Row[Any]]:
    """Every row of ``statement``, committed as it ran."""
    return await greenlet_spawn(_rows, engine.sync_engine, statement, parameters, autocommit=True)


async def read_rows(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any]
) -> Sequence[Row[Any]]:
    """Every row of ``statement``, which only reads: in autocommit on PostgreSQL (as
    ``create_read_session_factory`` explains), in a transaction rolled back at once on SQLite,
    whose autocommit mode would undo the engine's own handling of transactions."""
    autocommit = engine.dialect.name == "postgresql"
    return await greenlet_spawn(
        _rows, engine.sync_engine, statement, parameters, autocommit=autocommit
    )


def _scalar(engine: Engine, statement: Executable, parameters: dict[str, Any]) -> Any:
    with _connection(engine, autocommit=True) as connection:
        return connection.scalar(statement, parameters)


def _rows(
    engine: Engine, statement: Executable, parameters: dict[str, Any], *, autocommit: bool
) -> Sequence[Row[Any]]:
    with _connection(engine, autocommit=autocommit) as connection:
        return connection.execute(statement, parameters).all()


@contextmanager
def _connection(engine: Engine, *, autocommit: bool) -> Iterator[Connection]:
    with engine.connect() as connection:
        if autocommit:
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection
