"""One connection to Redis that Parley reads and writes itself, for the broker's hot paths.

Every event a room carries is published once and read once per instance, so the broker
skips redis-py's per-command machinery (a pooled checkout with its checks, a timeout, a
retry wrapper, a task waiting for each reply): an ``asyncio.Protocol`` writes commands
packed by hiredis and hands each chunk the socket reads to hiredis, which parses the
replies, all in the event loop's own callbacks. What the replies mean is the owner's
business: the subscriber's and the publisher's differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import hiredis
import redis.asyncio as redis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection

__all__ = ["LinkClosedError", "RedisAddress", "RedisLink", "Reply", "settle"]

Reply = Any  # what hiredis parses: bytes, int, a list of those, or a ``hiredis.ReplyError``

_CONNECT_SECONDS = 5.0


class LinkClosedError(ConnectionError):
    """The connection closed, or was closed before Redis answered."""


@dataclass(frozen=True, slots=True)
class RedisAddress:
    """Where a client connects, and how: read from its pool, so the URL means the same here."""

    host: str
    port: int
    path: str | None  # a Unix socket instead of host and port
    username: str | None
    password: str | None
    tls: ssl.SSLContext | None
    health_check_seconds: float

    @classmethod
    def of(cls, client: redis.Redis) -> RedisAddress:
        pool = client.connection_pool
        connection: Any = pool.make_connection()  # type: ignore[no-untyped-call]
        return cls(
            host=getattr(connection, "host", "localhost"),
            port=getattr(connection, "port", 6379),
            path=connection.path if isinstance(connection, UnixDomainSocketConnection) else None,
            username=connection.username,
            password=connection.password,
            tls=connection.ssl_context.get() if isinstance(connection, SSLConnection) else None,
            health_check_seconds=float(pool.connection_kwargs.get("health_check_interval") or 10),
        )


class RedisLink(asyncio.Protocol):
    """A connection: replies to ``request`` go to its caller, every other one to ``on_reply``.

    ``RedisLink.open`` connects and authenticates; after that the owner sends with ``send``
    (nothing awaited) and hears back through ``on_reply``, in the order Redis answers.
    """

    def __init__(self, on_reply: Callable[[Reply], None]) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._on_reply = on_reply
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None
        self._requests: deque[asyncio.Future[Reply]] = deque()  # awaited replies, in order
        self.heard_at = loop.time()
        self.closed: asyncio.Future[None] = loop.create_future()

    @classmethod
    async def open(
        cls, address: RedisAddress, on_reply: Callable[[Reply], None], *, name: str
    ) -> RedisLink:
        """Connect, authenticate and name the connection (``CLIENT LIST`` shows ``name``)."""
        link = cls(on_reply)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(_CONNECT_SECONDS):
                if address.path is not None:
                    await loop.create_unix_connection(lambda: link, address.path)
                else:
                    await loop.create_connection(
                        lambda: link,
                        address.host,
                        address.port,
                        ssl=address.tls,
                        server_hostname=address.host if address.tls is not None else None,
                    )
                if address.password is not None:
                    user = (address.username,) if address.username else ()
                    await link.request("AUTH", *user, address.password)
                with contextlib.suppress(hiredis.ReplyError):  # a proxy or ACL may refuse it
                    await link.request("CLIENT", "SETNAME", name)
        except BaseException:
            link.abort()
            raise
        return link

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream's transport; uvloop's implement ``asyncio.Transport`` without subclassing it.
        self._transport = cast("asyncio.Transport", transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def data_received(self, data: bytes) -> None:
        self.heard_at = self._loop.time()
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if self._requests:
                settle(self._requests.popleft(), reply)
            else:
                self._on_reply(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        lost = LinkClosedError(f"redis connection closed ({exc or 'by the peer'})")
        while self._requests:
            settle(self._requests.popleft(), lost)
        if not self.closed.done():
            self.closed.set_result(None)

    # --- commands ----------------------------------------------------------------------------

    def send(self, *args: str | bytes) -> None:
        """Write a command; its reply goes to ``on_reply``."""
        if self._transport is None or self._transport.is_closing():
            raise LinkClosedError("redis connection is closed")
        self._transport.write(hiredis.pack_command(args))  # type: ignore[arg-type]  # typed as one item

    async def request(self, *args: str | bytes) -> Reply:
        """Write a command and wait for its reply. Only while nothing sent is unanswered."""
        waiter: asyncio.Future[Reply] = self._loop.create_future()
        self.send(*args)
        self._requests.append(waiter)
        return await waiter

    @property
    def is_closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    @property
    def buffered(self) -> int:
        """Bytes written but not yet taken by the socket (Redis not reading fast enough)."""
        return 0 if self._transport is None else self._transport.get_write_buffer_size()

    def close(self) -> None:
        """Close once what is written has gone out."""
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


def settle(waiter: asyncio.Future[Any], outcome: Any) -> None:
    """Give a waiter its outcome (an exception, such as a ``hiredis.ReplyError``, is raised
    in it), unless it stopped waiting (a timeout, a cancelled caller)."""
    if waiter.done():
        return
    if isinstance(outcome, BaseException):
        waiter.set_exception(outcome)
    else:
        waiter.set_result(outcome)
