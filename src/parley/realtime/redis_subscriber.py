"""The listening half of the Redis broker: one pub/sub connection, read as Redis pushes.

Every message a room receives passes through here once per instance, so the reading is
lean: on a ``RedisLink`` (``redis_link.py``) the messages parsed from each chunk the socket
reads go straight to an inbox, with no per-message timeout, retry or health-check wrapper.
Through redis-py's ``PubSub.get_message``, which has all three, a message cost its reader
about twice the CPU (see docs/performance.md).

What redis-py did for us besides is done here, and is part of the broker's contract:

- a lost connection is made again, every wanted channel subscribed again, and only then a
  ``Reconnected`` event passed on, so the hub's re-read of the database starts once live
  events flow again: nothing published in between falls through;
- ``subscribe`` returns once Redis has confirmed the subscription, so an event published
  after it returns is delivered (and ``unsubscribe`` once nothing more comes);
- a connection that goes quiet is pinged, and dropped if Redis does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

import hiredis

from parley.realtime.broker import BrokerEvent, Delivery, Reconnected
from parley.realtime.redis_link import LinkClosedError, RedisAddress, RedisLink, Reply

__all__ = ["RedisSubscriber"]

log = logging.getLogger(__name__)

_CONNECT_SECONDS = 5.0
_UNSUBSCRIBE_SECONDS = 5.0  # a frozen Redis does not hold a leaving socket longer
_CONFIRMED = (b"subscribe", b"unsubscribe")
_FIRST_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 2.0


class _Subscription:
    """A link in subscribed mode: messages to the inbox, confirmations to whoever waits."""

    def __init__(self, deliver: Callable[[BrokerEvent], None]) -> None:
        self._deliver = deliver
        # Per command and channel, in the order they went out: Redis confirms in that order.
        self._confirmations: dict[tuple[bytes, bytes], deque[asyncio.Future[None]]] = {}
        self.link: RedisLink  # set by ``open``

    @classmethod
    async def open(
        cls, address: RedisAddress, deliver: Callable[[BrokerEvent], None], channels: set[str]
    ) -> _Subscription:
        subscription = cls(deliver)
        subscription.link = await RedisLink.open(address, subscription._on_reply, name="parley:sub")
        subscription.link.closed.add_done_callback(subscription._fail_waiters)
        try:
            if channels:
                await subscription.subscribe(*channels)
        except BaseException:
            subscription.link.abort()
            raise
        return subscription

    def _on_reply(self, reply: Reply) -> None:
        if type(reply) is not list:
            return
        kind = reply[0]
        if kind == b"message":
            self._deliver(Delivery(reply[1].decode(), reply[2]))
        elif kind in _CONFIRMED:
            waiting = self._confirmations.get((kind, reply[1]))
            if waiting:
                waiter = waiting.popleft()
                if not waiter.done():
                    waiter.set_result(None)
        # "pong" needs nothing done.

    def _fail_waiters(self, _closed: asyncio.Future[None]) -> None:
        lost = LinkClosedError("redis pub/sub connection closed before Redis confirmed")
        for waiting in self._confirmations.values():
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_exception(lost)
        self._confirmations.clear()

    async def subscribe(self, *channels: str) -> None:
        """Subscribe, and return once Redis has confirmed every channel."""
        await self._confirmed(b"subscribe", channels)

    async def unsubscribe(self, channel: str) -> None:
        """Unsubscribe, and return once Redis has confirmed: nothing more comes from it."""
        await self._confirmed(b"unsubscribe", (channel,))

    async def _confirmed(self, kind: bytes, channels: tuple[str, ...]) -> None:
        loop = asyncio.get_running_loop()
        waiters = []
        for channel in channels:
            waiter: asyncio.Future[None] = loop.create_future()
            self._confirmations.setdefault((kind, channel.encode()), deque()).append(waiter)
            waiters.append(waiter)
        self.link.send(kind.decode().upper(), *channels)
        await asyncio.gather(*waiters)


class RedisSubscriber:
    """Keeps one pub/sub connection to Redis subscribed to the channels asked for.

    It connects when first needed (a process that only publishes never opens it), and a
    task of its own makes it again whenever it is lost. Events wait in an inbox for the
    one consumer of ``events()``.
    """

    def __init__(self, address: RedisAddress) -> None:
        self._address = address
        self._wanted: set[str] = set()
        self._subscription: _Subscription | None = None
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
        if self._subscription is None and self._attempt is not None:
            await asyncio.shield(self._attempt)
        subscription = self._subscription
        if subscription is None:
            log.warning("could not subscribe %s now; will when Redis is back", channel)
            self._missed = True
            return
        try:
            await subscription.subscribe(channel)
        except LinkClosedError:
            # The keeper subscribes every wanted channel again, then says ``Reconnected``.
            log.warning("redis pub/sub connection lost while subscribing %s", channel)

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        if self._subscription is not None:
            # A connection that is gone has no subscriptions left to drop; a Redis that does
            # not answer in time leaves one the hub ignores.
            with contextlib.suppress(LinkClosedError, TimeoutError):
                async with asyncio.timeout(_UNSUBSCRIBE_SECONDS):
                    await self._subscription.unsubscribe(channel)

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
        if self._subscription is not None:
            self._subscription.link.abort()

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
            subscription = await self._try_to_connect()
            if subscription is None:
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
            await self._watch(subscription.link)
            log.warning("redis pub/sub connection lost; reconnecting")
            self._subscription = None
            self._missed = True
            await asyncio.sleep(backoff)

    async def _try_to_connect(self) -> _Subscription | None:
        """Connect and subscribe every wanted channel; None (logged) if Redis is away."""
        attempt = self._attempt or asyncio.get_running_loop().create_future()
        self._attempt = attempt
        try:
            async with asyncio.timeout(_CONNECT_SECONDS):
                self._subscription = await _Subscription.open(
                    self._address, self._receive, set(self._wanted)
                )
        except (OSError, TimeoutError, hiredis.HiredisError) as error:
            log.warning("could not connect redis pub/sub (%s); retrying", error)
            self._missed = True
        finally:
            self._attempt = None
            attempt.set_result(None)
        return self._subscription

    async def _watch(self, link: RedisLink) -> None:
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
                # Answered with a push in subscribed mode: hearing anything is enough.
                with contextlib.suppress(LinkClosedError):
                    link.send("PING")
                pinged_at = now
            else:
                pinged_at = None
