"""Statements on a connection: the second of the two ways Parley reaches its database, beside
the unit of work (``unit_of_work.py``), for the few hot paths where a session's bookkeeping
costs more CPU than the database spends running the statement.

Each call runs its statements through SQLAlchemy's synchronous Core API on one connection,
handed over by ``AsyncConnection.run_sync``: one trip through the asyncio bridge for the
whole of the work, where the asyncio facade takes one per step (execute, fetch, commit) and
an ``AsyncSession`` adds its transaction bookkeeping on top. Nothing is lost on the way:
errors are translated to ``sqlalchemy.exc`` as ever, and a connection found broken is
invalidated in the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Executable, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley.db.engine import AUTOCOMMIT, read_only_options

__all__ = ["AutocommitConnection", "on_connection", "read_rows", "write_rows"]

_T = TypeVar("_T")


async def on_connection(engine: AsyncEngine, work: Callable[[Connection], _T]) -> _T:
    """``work``'s answer, run on a pooled connection checked out for it and given back after.

    The connection is closed without ``async with``, whose exit runs the close in a task of
    its own (safe from a second cancellation, at a task's cost per call, see
    docs/performance.md): giving a connection back sends nothing to PostgreSQL once its
    work committed or ran in autocommit, so that close does not wait and cannot be cut short.
    Only work that returns without committing (an upload's outcome taken over) has its close
    send a ``ROLLBACK``.
    """
    connection = await engine.connect()
    try:
        return await connection.run_sync(work)
    finally:
        await connection.close()


async def read_rows(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any]
) -> Sequence[Row[Any]]:
    """Every row of ``statement``, which only reads: in autocommit on PostgreSQL, in a deferred
    transaction rolled back at once on SQLite, whose autocommit mode would undo the engine's
    own handling of transactions (``read_only_options``)."""
    options = read_only_options(engine)
    return await on_connection(engine, _rows_of(statement, parameters, options))


async def write_rows(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any]
) -> Sequence[Row[Any]]:
    """Every row of ``statement`` (none unless it returns some), a change committed as it ran:
    in autocommit on PostgreSQL, with no ``BEGIN`` or ``COMMIT`` round trip, in a transaction
    of its own on SQLite."""
    options = AUTOCOMMIT if engine.dialect.name == "postgresql" else {}
    return await on_connection(engine, _rows_of(statement, parameters, options, commit=True))


def _rows_of(
    statement: Executable,
    parameters: dict[str, Any],
    options: Mapping[str, Any],
    *,
    commit: bool = False,
) -> Callable[[Connection], Sequence[Row[Any]]]:
    def rows(connection: Connection) -> Sequence[Row[Any]]:
        connection.execution_options(**options)
        result = connection.execute(statement, parameters)
        answer = result.all() if result.returns_rows else []
        if commit:
            connection.commit()
        return answer

    return rows


class AutocommitConnection:
    """A pooled connection kept in autocommit, for a user that runs one statement at a time
    (``MessageAppends``): checking a connection out and in again around every statement,
    and switching its isolation level both ways, cost more CPU than the round trip. A
    statement that fails gives the connection back (the pool drops it if it was found
    broken), and the next one checks out another."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def rows(self, statement: Executable, parameters: dict[str, Any]) -> Sequence[Row[Any]]:
        """Every row of ``statement``, committed as it ran."""
        return await self._run(lambda held: held.execute(statement, parameters).all())

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _run(self, statement: Callable[[Connection], _T]) -> _T:
        connection = self._connection
        if connection is None:
            connection = await self._engine.connect()
            await connection.execution_options(**AUTOCOMMIT)
            self._connection = connection
        try:
            return await connection.run_sync(_committed(statement))
        except BaseException:
            self._connection = None
            await connection.close()
            raise


def _committed(statement: Callable[[Connection], _T]) -> Callable[[Connection], _T]:
    def run(connection: Connection) -> _T:
        result = statement(connection)
        connection.commit()  # SQLAlchemy's own bookkeeping: autocommit sends nothing
        return result

    return run
