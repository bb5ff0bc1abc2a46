"""The listening half of the Redis broker: one pub/sub connection, read as Redis pushes.

Every message a room receives passes through here once per instance, so the reading is
lean: an ``asyncio.Protocol`` hands each chunk the socket reads to hiredis and queues the
messages parsed from it, with no per-message timeout, retry or health-check wrapper.
Through redis-py's ``PubSub.get_message``, which has all three, a message cost its reader
about twice the CPU (see docs/performance.md).

What redis-py did for us besides is done here, and is part of the broker's contract:

- a lost connection is made again, every wanted channel subscribed again, and only then a
  ``Reconnected`` event passed on, so the hub's re-read of the database starts once live
  events flow again: nothing published in between falls through;
- ``subscribe`` returns once Redis has confirmed the subscription, so an event published
  after it returns is delivered;
- a connection that goes quiet is pinged, and dropped if Redis does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import hiredis
import redis.asyncio as redis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection

from parley.realtime.broker import BrokerEvent, Delivery, Reconnected

__all__ = ["RedisAddress", "RedisSubscriber"]

log = logging.getLogger(__name__)

_CONNECT_SECONDS = 5.0
_FIRST_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 2.0


class SubscriptionLostError(ConnectionError):
    """The connection closed before Redis answered."""


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

    async def open(self, protocol: _Link) -> None:
        loop = asyncio.get_running_loop()
        if self.path is not None:
            await loop.create_unix_connection(lambda: protocol, self.path)
        else:
            await loop.create_connection(
                lambda: protocol,
                self.host,
                self.port,
                ssl=self.tls,
                server_hostname=self.host if self.tls is not None else None,
            )


class _Link(asyncio.Protocol):
    """One connection in subscribed mode: messages to the inbox, confirmations to waiters."""

    def __init__(self, deliver: Callable[[BrokerEvent], None]) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._deliver = deliver
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None
        # Replies that are not pushes (AUTH's), and subscriptions awaiting Redis's word,
        # in the order the commands went out: Redis answers in that order.
        self._replies: deque[asyncio.Future[Any]] = deque()
        self._confirmations: dict[bytes, deque[asyncio.Future[None]]] = {}
        self.heard_at = loop.time()
        self.closed: asyncio.Future[None] = loop.create_future()

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
            if type(reply) is list and reply[0] == b"message":
                self._deliver(Delivery(reply[1].decode(), reply[2]))
            else:
                self._on_reply(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        lost = SubscriptionLostError(f"redis pub/sub connection closed ({exc or 'by the peer'})")
        for waiter in [*self._replies, *(w for ws in self._confirmations.values() for w in ws)]:
            if not waiter.done():
                waiter.set_exception(lost)
        self._replies.clear()
        self._confirmations.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    def _on_reply(self, reply: Any) -> None:
        if type(reply) is list:
            if reply[0] == b"subscribe":
                waiting = self._confirmations.get(reply[1])
                if waiting:
                    waiter = waiting.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
            # "unsubscribe" and "pong" need nothing done.
            return
        waiter = self._replies.popleft()
        if waiter.done():
            return
        if isinstance(reply, hiredis.ReplyError):
            waiter.set_exception(reply)
        else:
            waiter.set_result(reply)

    # --- commands ----------------------------------------------------------------------------

    def _send(self, *args: str | bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise SubscriptionLostError("redis pub/sub connection is closed")
        self._transport.write(hiredis.pack_command(args))  # type: ignore[arg-type]  # typed as one item

    async def authenticate(self, username: str | None, password: str) -> None:
        waiter: asyncio.Future[Any] = self._loop.create_future()
        self._replies.append(waiter)
        self._send("AUTH", *((username,) if username else ()), password)
        await waiter

    async def subscribe(self, *channels: str) -> None:
        """Subscribe, and return once Redis has confirmed every channel."""
        waiters = []
        for channel in channels:
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._confirmations.setdefault(channel.encode(), deque()).append(waiter)
            waiters.append(waiter)
        self._send("SUBSCRIBE", *channels)
        await asyncio.gather(*waiters)

    def unsubscribe(self, channel: str) -> None:
        self._send("UNSUBSCRIBE", channel)

    def ping(self) -> None:
        self._send("PING")  # answered with a push in subscribed mode: hearing it is enough

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class RedisSubscriber:
    """Keeps one pub/sub connection to Redis subscribed to the channels asked for.

    It connects when first needed (a process that only publishes never opens it), and a
    task of its own makes it again whenever it is lost. Events wait in an inbox for the
    one consumer of ``events()``.
    """

    def __init__(self, address: RedisAddress) -> None:
        self._address = address
        self._wanted: set[str] = set()
        self._link: _Link | None = None
        self._attempt: asyncio.Future[None] | None = None  # the connection being made now
        # Events may have been missed (a subscription failed, or the connection dropped):
        # the next connection made says so with a ``Reconnected``.
        self._missed = False
        self._inbox: deque[BrokerEvent] = deque()
        self._arrived = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self.reconnects = 0

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        self._keep_connected()
        if self._link is None and self._attempt is not None:
            await asyncio.shield(self._attempt)
        link = self._link
        if link is None:
            log.warning("could not subscribe %s now; will when Redis is back", channel)
            self._missed = True
            return
        try:
            await link.subscribe(channel)
        except SubscriptionLostError:
            # The keeper subscribes every wanted channel again, then says ``Reconnected``.
            log.warning("redis pub/sub connection lost while subscribing %s", channel)

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        if self._link is not None:
            # A connection that is gone has no subscriptions left to drop.
            with contextlib.suppress(SubscriptionLostError):
                self._link.unsubscribe(channel)

    async def events(self) -> AsyncIterator[BrokerEvent]:
        self._keep_connected()
        inbox = self._inbox
        while True:
            while inbox:
                yield inbox.popleft()
            self._arrived.clear()
            await self._arrived.wait()

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._link is not None:
            self._link.abort()

    def _receive(self, event: BrokerEvent) -> None:
        self._inbox.append(event)
        self._arrived.set()

    def _keep_connected(self) -> None:
        if self._keeper is None or self._keeper.done():
            # The first attempt exists before the task runs: a ``subscribe`` right now waits
            # for it instead of finding nothing connected.
            self._attempt = asyncio.get_running_loop().create_future()
            self._keeper = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        backoff = _FIRST_BACKOFF_SECONDS
        connected_before = False
        while True:
            link = await self._try_to_connect()
            if link is None:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            backoff = _FIRST_BACKOFF_SECONDS
            if connected_before:
                self.reconnects += 1
                log.info("redis pub/sub reconnected and resubscribed (%d so far)", self.reconnects)
            connected_before = True
            if self._missed:
                self._missed = False
                self._receive(Reconnected())
            await self._watch(link)
            log.warning("redis pub/sub connection lost; reconnecting")
            self._link = None
            self._missed = True
            await asyncio.sleep(backoff)

    async def _try_to_connect(self) -> _Link | None:
        """Connect and subscribe every wanted channel; None (logged) if Redis is away."""
        attempt = self._attempt or asyncio.get_running_loop().create_future()
        self._attempt = attempt
        try:
            self._link = await self._connect()
        except (OSError, TimeoutError, hiredis.HiredisError) as error:
            log.warning("could not connect redis pub/sub (%s); retrying", error)
            self._missed = True
        finally:
            self._attempt = None
            attempt.set_result(None)
        return self._link

    async def _connect(self) -> _Link:
        link = _Link(self._receive)
        try:
            async with asyncio.timeout(_CONNECT_SECONDS):
                await self._address.open(link)
                if self._address.password is not None:
                    await link.authenticate(self._address.username, self._address.password)
                if self._wanted:
                    await link.subscribe(*self._wanted)
        except BaseException:
            link.abort()
            raise
        return link

    async def _watch(self, link: _Link) -> None:
        """Return when the link is lost. A quiet link is pinged; one that stays silent for a
        whole interval after its ping is dropped (a half-open connection never closes)."""
        interval = self._address.health_check_seconds
        pinged_at: float | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.closed), interval)
                return
            now = asyncio.get_running_loop().time()
            if pinged_at is not None and link.heard_at < pinged_at:
                log.warning("redis pub/sub did not answer a ping; dropping the connection")
                link.abort()
            elif now - link.heard_at >= interval / 2:
                with contextlib.suppress(SubscriptionLostError):
                    link.ping()
                pinged_at = now
            else:
                pinged_at = None
