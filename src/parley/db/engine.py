"""Building the async engine and its session factory from settings."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeAlias

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from parley.db.outage import translate_outages

__all__ = [
    "AUTOCOMMIT",
    "READS_ONLY",
    "SessionFactory",
    "create_engine",
    "create_read_session_factory",
    "create_session_factory",
    "read_only_options",
]

SessionFactory: TypeAlias = async_sessionmaker[AsyncSession]

# An execution option of Parley's: set on work that only reads (``read_only_options``).
READS_ONLY = "parley_reads_only"

# The execution options of statements that commit as they run, on PostgreSQL: no ``BEGIN``
# before them and no ``COMMIT`` after. Read-only: every caller shares this one.
AUTOCOMMIT: Mapping[str, Any] = MappingProxyType({"isolation_level": "AUTOCOMMIT"})


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = _create_sqlite_engine(database_url)
    else:
        engine = _create_postgres_engine(database_url, pool_size)
    translate_outages(engine)
    return engine


def _create_postgres_engine(database_url: str, pool_size: int) -> AsyncEngine:
    return create_async_engine(
        database_url,
        # A fixed pool: connections opened past it for a burst are closed again when
        # returned, and under steady load that churn (a new connection per statement)
        # cost more CPU than the statements. Past the pool, requests wait their turn.
        pool_size=pool_size,
        max_overflow=0,
        # Every message row carries a JSON attachment: orjson reads it several times faster.
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
    )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # Objects stay readable after commit: responses are built from them once committed.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions for work that only reads. On PostgreSQL their statements run in autocommit:
    no ``BEGIN`` before the first and no ``COMMIT`` or ``ROLLBACK`` after the last, two round
    trips saved. Under READ COMMITTED, PostgreSQL's default, each statement sees its own
    snapshot either way, so a reader sees nothing different. SQLite keeps its transactions,
    deferred ones (``READS_ONLY``).
    """
    return create_session_factory(engine.execution_options(**read_only_options(engine)))


def read_only_options(engine: AsyncEngine) -> Mapping[str, Any]:
    """The execution options of work that only reads, on this engine's database."""
    if engine.dialect.name == "postgresql":
        return AUTOCOMMIT
    return {READS_ONLY: True}


def _create_sqlite_engine(database_url: str) -> AsyncEngine:
    engine = create_async_engine(database_url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own BEGIN is replaced by ours below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        if connection.get_execution_options().get(READS_ONLY):
            # Deferred: under WAL it reads the last commit beside a writer, never waiting.
            connection.exec_driver_sql("BEGIN")
            return
        # Take the write lock up front: a deferred transaction that reads, then writes,
        # fails at once with SQLITE_BUSY when another writer got in between, whereas
        # BEGIN IMMEDIATE waits for the lock (busy_timeout) like PostgreSQL's row lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
