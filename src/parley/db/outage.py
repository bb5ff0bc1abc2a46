"""What the database being away looks like to the code that calls it: one exception.

HTTP answers it with 503 and sockets close with 1013, so it must mean "try again later" and
nothing else. A statement the database refuses (a bug, or a schema behind the code) is not an
outage: it stays the driver's error and is answered, and logged, as a server fault.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["DATABASE_UNREACHABLE", "DatabaseUnavailable", "translate_outages"]


class DatabaseUnavailable(Exception):
    """The database cannot serve this process now: refused, timed out, shutting down, out of
    connections, missing, or the connection was lost."""


# What reading or writing raises while the database is away: ours, and the pool's when no
# connection came free in time.
DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (DatabaseUnavailable, PoolTimeoutError)

# SQLSTATEs that say the server cannot serve the connection now, whatever the statement:
# class 08 (connection exception), 57P0x (shutting down, starting up, database dropped),
# 53300 (too many connections) and 3D000 (no such database).
_OUTAGE_SQLSTATE_PREFIXES = ("08", "57P", "53300", "3D000")


def translate_outages(engine: AsyncEngine) -> None:
    """Make every way the database can be away on ``engine`` raise ``DatabaseUnavailable``."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        # asyncpg's own connect failures (a refused port, a connect that timed out) reach
        # the caller untranslated by SQLAlchemy, and no handle_error sees them.
        try:
            return dialect.connect(*cargs, **cparams)
        except (OSError, TimeoutError) as error:
            raise DatabaseUnavailable(f"cannot connect to the database: {error}") from error

    @event.listens_for(sync_engine, "handle_error")
    def _translate(context: ExceptionContext) -> BaseException | None:
        if not isinstance(context.original_exception, Exception):
            # A cancellation (a closing socket, a shutdown) also ends the statement and drops
            # its connection: it must stay a cancellation, never pass for an outage.
            return None
        sqlstate = getattr(context.original_exception, "sqlstate", None) or ""
        if context.is_disconnect or sqlstate.startswith(_OUTAGE_SQLSTATE_PREFIXES):
            return DatabaseUnavailable(f"the database is unavailable: {context.original_exception}")
        return None
