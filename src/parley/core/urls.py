"""The database and Redis URLs an operator writes, checked and made into what Parley uses.

A URL copied from elsewhere (``postgres://…`` from a hosting panel, ``postgresql://…`` from
psql) names no driver; Parley talks to PostgreSQL through asyncpg only, so it chooses that
driver rather than fail deep inside SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["database_url", "redis_url"]

_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def database_url(text: str) -> str:
    """``text`` with asyncpg (or aiosqlite) as its driver; ValueError if it cannot serve."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        msg = "not a database URL: expected postgresql+asyncpg://USER@HOST:PORT/DATABASE"
        raise ValueError(msg)
    driver = _DRIVERS.get(scheme.lower())
    if driver is None:
        msg = (
            f"Parley does not speak {scheme!r}: use postgresql+asyncpg://USER@HOST:PORT/DATABASE "
            "(postgres:// and postgresql:// are taken to mean that) or sqlite+aiosqlite:///PATH"
        )
        raise ValueError(msg)
    url = f"{driver}://{rest}"
    try:
        parsed = make_url(url)
    except ArgumentError as error:  # its text would repeat the URL, password and all
        msg = "not a database URL: expected postgresql+asyncpg://USER@HOST:PORT/DATABASE"
        raise ValueError(msg) from error
    except ValueError as error:
        msg = "the URL's port is not a number"
        raise ValueError(msg) from error
    if driver.startswith("postgresql") and not (parsed.host and parsed.database):
        msg = "the URL names no host or no database: postgresql+asyncpg://USER@HOST:PORT/DATABASE"
        raise ValueError(msg)
    return url


def redis_url(text: str) -> str:
    if not text.startswith(_REDIS_SCHEMES):
        msg = "not a Redis URL: expected redis://HOST:PORT/DB, rediss://… (TLS) or unix:///PATH"
        raise ValueError(msg)
    return text
