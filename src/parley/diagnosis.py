"""What the operator is told when a command cannot do its work: a line or two saying what is
wrong and how to fix it, instead of a traceback with the cause at the bottom.

Only failures of the machine around Parley (a database or Redis that cannot be reached, a
setting that cannot work) are explained here. Anything else is a bug, and keeps its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
import redis.exceptions
from pydantic import ValidationError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from parley.core.errors import ConfigurationError
from parley.core.settings import Settings
from parley.db.outage import DatabaseUnavailable

__all__ = ["explain", "explain_settings"]

# The password of a URL's ``user:password@``.
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def explain_settings(error: ValidationError) -> str:
    """Each invalid ``PARLEY_*`` variable, with the value given and what is wrong with it."""
    lines = []
    for problem in error.errors():
        name = f"PARLEY_{'_'.join(str(part) for part in problem['loc']).upper()}"
        reason = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{name}={_shown(name, problem['input'])} is not valid: {reason}")
    return "\n".join(lines)


def _shown(name: str, value: object) -> str:
    """The value as given, but never a secret: keys and tokens hidden, URL passwords masked."""
    if name.endswith(("_KEY", "_TOKEN")):
        return "(hidden)"
    return repr(_URL_PASSWORD.sub(r"\1***@", value) if isinstance(value, str) else value)


def explain(error: BaseException, settings: Settings) -> str | None:
    """One or two lines for the operator, or None for an error that is not theirs to fix."""
    if isinstance(error, ConfigurationError):
        return str(error)
    if isinstance(error, DatabaseUnavailable | DBAPIError):
        return _database(error, settings)
    if isinstance(error, redis.exceptions.AuthenticationError):
        return f"Redis at {_redis_address(settings)} refused the password in PARLEY_REDIS_URL."
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return (
            f"cannot reach Redis at {_redis_address(settings)} ({error}): "
            "is it running, and is PARLEY_REDIS_URL its address?"
        )
    return None


def _database(error: BaseException, settings: Settings) -> str | None:
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return f"cannot use the SQLite database {url.database} ({_root(error)})."
    for cause in _causes(error):
        said = _postgres_fault(cause, url)
        if said is not None:
            return said
    if isinstance(error, DatabaseUnavailable):
        return f"the database at {url.host}:{url.port or 5432} is unavailable: {_root(error)}"
    return None


def _postgres_fault(cause: BaseException, url: URL) -> str | None:  # noqa: PLR0911  (a table)
    where, port = f"{url.host}:{url.port or 5432}", url.port or 5432
    if isinstance(cause, asyncpg.InvalidCatalogNameError):
        return (
            f'database "{url.database}" does not exist on {where}: create it with '
            f"`createdb -h {url.host} -p {port} -U {url.username} {url.database}`, "
            "then run `parley migrate`."
        )
    if isinstance(cause, asyncpg.InvalidAuthorizationSpecificationError):
        return (
            f"PostgreSQL at {where} refused user {url.username!r} ({cause}): check the user "
            "and password in PARLEY_DATABASE_URL."
        )
    if isinstance(cause, asyncpg.TooManyConnectionsError):
        return (
            f"PostgreSQL at {where} has no connection to spare: raise its max_connections "
            "or lower PARLEY_DATABASE_POOL_SIZE."
        )
    if isinstance(cause, asyncpg.CannotConnectNowError):
        return f"PostgreSQL at {where} is starting up or shutting down: try again shortly."
    if isinstance(cause, TimeoutError):
        return f"PostgreSQL at {where} did not answer in time: is that its address?"
    if isinstance(cause, OSError):
        return (
            f"cannot connect to PostgreSQL at {where} ({cause.strerror or cause}): "
            "is it running, and is PARLEY_DATABASE_URL its address?"
        )
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _root(error: BaseException) -> BaseException:
    *_, last = _causes(error)
    return last


def _redis_address(settings: Settings) -> str:
    """Where the Redis URL points, without the password it may carry."""
    parts = urlsplit(settings.redis_url or "")
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}"
