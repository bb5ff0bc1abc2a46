"""What the database being away looks like to the code that calls it."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

__all__ = ["DATABASE_UNREACHABLE"]

# What reading or writing raises while the database is away: the driver's error (a connection
# lost or killed, or refused by the server), the pool's when no connection came free in time,
# and what asyncpg raises while connecting, which SQLAlchemy passes on untranslated (a
# connection refused by the host, a connect that timed out).
DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
)
