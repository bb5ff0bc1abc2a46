"""Statements outside any session: a connection kept in autocommit for one sequential user,
and single statements, reading or writing, on a pooled connection.

The asyncio facade of SQLAlchemy runs each step (check out a connection, set its options,
execute, return it) in a greenlet of its own, and an ``AsyncSession`` adds its transaction
bookkeeping on top: for a single short statement that costs more CPU than PostgreSQL spends
running it. Here the same steps run through SQLAlchemy's synchronous Core API inside one
greenlet, which is how its asyncio extension works underneath. Nothing is lost on the way:
errors are translated to ``sqlalchemy.exc`` as ever, and a connection found broken is
invalidated in the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from parley.db.engine import AUTOCOMMIT, read_only_options

__all__ = ["AutocommitConnection", "read_rows", "write_rows"]

_T = TypeVar("_T")


class AutocommitConnection:
    """A pooled connection kept in autocommit, for a user that runs one statement at a time
    (``MessageAppends``): checking a connection out and in again around every statement,
    and switching its isolation level both ways, cost more CPU than the round trip. A
    statement that fails gives the connection back (the pool drops it if it was found
    broken), and the next one checks out another."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        self._connection: Connection | None = None

    async def scalar(self, statement: Executable, parameters: dict[str, Any]) -> Any:
        """The first column of the first row of ``statement``, committed as it ran."""
        return await greenlet_spawn(self._run, lambda held: held.scalar(statement, parameters))

    async def rows(self, statement: Executable, parameters: dict[str, Any]) -> Sequence[Row[Any]]:
        """Every row of ``statement``, committed as it ran."""
        return await greenlet_spawn(
            self._run, lambda held: held.execute(statement, parameters).all()
        )

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await greenlet_spawn(connection.close)

    def _run(self, statement: Callable[[Connection], _T]) -> _T:
        connection = self._connection
        if connection is None:
            connection = self._engine.connect()
            connection.execution_options(**AUTOCOMMIT)
            self._connection = connection
        try:
            result = statement(connection)
            connection.commit()  # SQLAlchemy's own bookkeeping: autocommit sends nothing
        except BaseException:
            self._connection = None
            connection.close()
            raise
        return result


async def read_rows(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any]
) -> Sequence[Row[Any]]:
    """Every row of ``statement``, which only reads: in autocommit on PostgreSQL, in a deferred
    transaction rolled back at once on SQLite, whose autocommit mode would undo the engine's
    own handling of transactions (``read_only_options``)."""
    options = read_only_options(engine)
    return await greenlet_spawn(_rows, engine.sync_engine, statement, parameters, options)


async def write_rows(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any]
) -> Sequence[Row[Any]]:
    """Every row of ``statement`` (none unless it returns some), a change committed as it ran:
    in autocommit on PostgreSQL, with no ``BEGIN`` or ``COMMIT`` round trip, in a transaction
    of its own on SQLite."""
    options = AUTOCOMMIT if engine.dialect.name == "postgresql" else {}
    return await greenlet_spawn(
        _rows, engine.sync_engine, statement, parameters, options, commit=True
    )


def _rows(
    engine: Engine,
    statement: Executable,
    parameters: dict[str, Any],
    options: Mapping[str, Any],
    *,
    commit: bool = False,
) -> Sequence[Row[Any]]:
    with engine.connect() as connection:
        connection.execution_options(**options)
        result = connection.execute(statement, parameters)
        rows = result.all() if result.returns_rows else []
        if commit:
            connection.commit()
        return rows
