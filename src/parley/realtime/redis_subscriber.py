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
from dataclasses import dataclass

import hiredis

from parley.realtime.broker import BrokerEvent, Delivery, Reconnected
from parley.realtime.redis_link import LinkClosedError, RedisAddress, RedisLink, Reply, settle

__all__ = ["RedisSubscriber"]

log = logging.getLogger(__name__)

_CONNECT_SECONDS = 5.0
_CONFIRM_SECONDS = 5.0  # a frozen Redis holds neither a joining nor a leaving socket longer
_FIRST_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 2.0


@dataclass(slots=True)
class _Command:
    """A SUBSCRIBE or UNSUBSCRIBE sent: Redis confirms each of its channels, or refuses it."""

    kind: bytes  # the confirmation's kind: b"subscribe" or b"unsubscribe"
    unconfirmed: int
    done: asyncio.Future[None]


class _Subscription:
    """A link in subscribed mode: messages to the inbox, confirmations to whoever waits."""

    def __init__(self, deliver: Callable[[BrokerEvent], None]) -> None:
        self._deliver = deliver
        # In the order they went out: Redis answers in that order.
        self._commands: deque[_Command] = deque()
        self.link: RedisLink  # set by ``open``

    @classmethod
    async def open(
        cls, address: RedisAddress, deliver: Callable[[BrokerEvent], None], channels: list[str]
    ) -> _Subscription:
        """Connect and subscribe ``channels``, one command each: a channel Redis refuses (an
        ACL without it) is logged and left out, not held against the others."""
        subscription = cls(deliver)
        subscription.link = await RedisLink.open(address, subscription._on_reply, name="parley:sub")
        subscription.link.closed.add_done_callback(subscription._fail_commands)
        try:
            outcomes = await asyncio.gather(
                *(subscription.subscribe(channel) for channel in channels), return_exceptions=True
            )
        except BaseException:
            subscription.link.abort()
            raise
        for channel, outcome in zip(channels, outcomes, strict=True):
            if isinstance(outcome, hiredis.ReplyError):
                log.error("redis refused to subscribe %s: %s", channel, outcome)
            elif isinstance(outcome, BaseException):
                subscription.link.abort()
                raise outcome
        return subscription

    def _on_reply(self, reply: Reply) -> None:
        if type(reply) is list:
            kind = reply[0]
            if kind == b"message":
                self._deliver(Delivery(reply[1].decode(), reply[2]))
            elif self._commands and kind == self._commands[0].kind:
                command = self._commands[0]
                command.unconfirmed -= 1
                if command.unconfirmed == 0:
                    self._commands.popleft()
                    settle(command.done, None)
            # "pong" needs nothing done.
        elif isinstance(reply, hiredis.ReplyError) and self._commands:
            # A command refused whole (an ACL without the channel, say).
            settle(self._commands.popleft().done, reply)

    def _fail_commands(self, _closed: asyncio.Future[None]) -> None:
        lost = LinkClosedError("redis pub/sub connection closed before Redis confirmed")
        while self._commands:
            settle(self._commands.popleft().done, lost)

    async def subscribe(self, *channels: str) -> None:
        """Subscribe, and return once Redis has confirmed every channel."""
        await self._confirmed("SUBSCRIBE", channels)

    async def unsubscribe(self, *channels: str) -> None:
        """Unsubscribe, and return once Redis has confirmed: nothing more comes from them."""
        await self._confirmed("UNSUBSCRIBE", channels)

    async def _confirmed(self, command: str, channels: tuple[str, ...]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.link.send(command, *channels)
        self._commands.append(_Command(command.lower().encode(), len(channels), done))
        async with asyncio.timeout(_CONFIRM_SECONDS):
            await done


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
        self._closed = False
        self.reconnects = 0

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        self._keep_connected()
        if self._subscription is None and self._attempt is not None:
            await asyncio.shield(self._attempt)
        subscription = self._subscription
        if channel not in self._wanted:
            return  # unsubscribed meanwhile
        if subscription is None:
            log.warning("could not subscribe %s now; will when Redis is back", channel)
            self._missed = True
            return
        try:
            await subscription.subscribe(channel)
        except (LinkClosedError, TimeoutError) as error:
            # The keeper subscribes every wanted channel again on a new connection (a silent
            # one is dropped by the health check), then says ``Reconnected``.
            log.warning("could not subscribe %s now (%r); will when Redis is back", channel, error)
            self._missed = True
        except hiredis.ReplyError as error:
            # Not a passing failure (an ACL without this channel): tried again only on the
            # next connection; meanwhile the hub's reconciliation against the database still
            # serves the room, every few seconds.
            log.error("redis refused to subscribe %s: %s", channel, error)  # noqa: TRY400

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        if self._subscription is not None:
            # A connection that is gone has no subscriptions left to drop; one that Redis
            # does not confirm leaves a channel the hub ignores.
            with contextlib.suppress(LinkClosedError, TimeoutError, hiredis.ReplyError):
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
        self._closed = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._attempt is not None and not self._attempt.done():
            self._attempt.set_result(None)  # a keeper cancelled before it began
        if self._subscription is not None:
            self._subscription.link.abort()

    def _receive(self, event: BrokerEvent) -> None:
        self._inbox.append(event)
        self._arrived.set()

    def _keep_connected(self) -> None:
        if not self._closed and (self._keeper is None or self._keeper.done()):
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
            wanted = list(self._wanted)
            async with asyncio.timeout(_CONNECT_SECONDS):
                subscription = await _Subscription.open(self._address, self._receive, wanted)
            self._subscription = subscription
            if left := set(wanted) - self._wanted:  # unsubscribed while it was being made
                with contextlib.suppress(LinkClosedError, TimeoutError, hiredis.ReplyError):
                    await subscription.unsubscribe(*left)  # or the hub ignores what comes
        except (OSError, TimeoutError, hiredis.HiredisError) as error:
            log.warning("could not connect redis pub/sub (%r); retrying", error)
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
