"""The listening half of the Redis broker: one redis-py ``PubSub`` connection, read by one task.

``PubSub`` subscribes, reads and parses (with hiredis); what the broker's contract asks beyond
that is done here:

- ``subscribe`` returns once Redis has confirmed the subscription, so an event published after
  it returns is delivered (and ``unsubscribe`` once nothing more comes). ``PubSub`` only sends
  the command: its confirmation is read by the reader, which hands it to whoever waits. A
  channel Redis refuses (an ACL without it) is logged, and asked for again on the next
  connection.
- A lost connection is made again here, every wanted channel subscribed again (one command
  each, so a refused one does not hold the others back), and only once Redis has answered them
  all is a ``Reconnected`` passed on: the hub then re-reads its rooms, and nothing published in
  between falls through. redis-py would make the connection again by itself, inside a read,
  resubscribe and carry on, and no one would know to say ``Reconnected``: its retries are
  turned off on this one connection (``pubsub_connection.py``).
- A connection that goes silent (a frozen Redis, a half-open link) is pinged every
  health-check interval and dropped if a ping goes unanswered for one. redis-py's own
  ``health_check_interval`` does not do it on a ``PubSub``: it pings only when a read begins
  after the interval (never while a read waits), and nothing notices a ping left unanswered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

import redis.asyncio as redis
from redis.exceptions import ResponseError

from parley.realtime.broker import BrokerEvent, Delivery, Reconnected
from parley.realtime.pubsub_connection import FAILURES, Answer, PubSubConnection

__all__ = ["PubSubListener"]

log = logging.getLogger(__name__)

_CONNECT_SECONDS = 5.0
_FIRST_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 2.0


class PubSubListener:
    """Keeps one ``PubSub`` connection subscribed to the channels asked for.

    It connects when first needed (a process that only publishes never does), and its reader
    task makes the connection again whenever it is lost. Events wait in an inbox for the one
    consumer of ``events()``.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._wanted: set[str] = set()
        self._connection: PubSubConnection | None = None
        self._connecting: asyncio.Future[None] | None = None  # the connection being made now
        # Events may have been missed (a connection was lost, or could not be made while a
        # channel was wanted): the next connection settled says so with a ``Reconnected``.
        self._missed = False
        self._settled_before = False
        self._inbox: deque[BrokerEvent] = deque()
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self.reconnects = 0

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        self._start()
        if self._connection is None and self._connecting is not None and not self._missed:
            await asyncio.shield(self._connecting)  # the first connection, being made
        connection = self._connection
        if channel not in self._wanted:
            return  # unsubscribed meanwhile
        if connection is not None:
            answer = await connection.subscribe(channel)
            if await connection.answer(answer, f"SUBSCRIBE {channel}") is not Answer.LOST:
                return  # confirmed, or refused (and logged)
        # The reader subscribes every wanted channel on its next connection, then says
        # ``Reconnected``.
        log.warning("could not subscribe %s now; will when Redis is back", channel)
        self._missed = True

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        connection = self._connection
        if connection is not None:
            # Lost: a connection that is gone has no subscriptions left.
            answer = await connection.unsubscribe(channel)
            await connection.answer(answer, f"UNSUBSCRIBE {channel}")

    async def events(self) -> AsyncIterator[BrokerEvent]:
        self._start()
        inbox = self._inbox
        while True:
            while inbox:
                yield inbox.popleft()
            self._arrived.clear()
            await self._arrived.wait()

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._connecting is not None and not self._connecting.done():
            self._connecting.set_result(None)  # a reader cancelled before it began

    def _deliver(self, event: BrokerEvent) -> None:
        self._inbox.append(event)
        self._arrived.set()

    def _start(self) -> None:
        if not self._closed and (self._reader is None or self._reader.done()):
            # The first attempt exists before the task runs: a ``subscribe`` right now waits
            # for it instead of finding nothing connected.
            self._connecting = asyncio.get_running_loop().create_future()
            self._reader = asyncio.create_task(self._keep_listening())

    async def _keep_listening(self) -> None:
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            connection = await self._connect()
            if connection is not None:
                backoff = _FIRST_BACKOFF_SECONDS
                await self._listen(connection)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    async def _connect(self) -> PubSubConnection | None:
        """Connect and ask for every wanted channel; None (logged) if Redis is away."""
        attempt = self._connecting or asyncio.get_running_loop().create_future()
        self._connecting = attempt
        try:
            connection = await self._open()
            if connection is None:
                return None
            self._connection = connection
            try:
                for channel in list(self._wanted):
                    await connection.subscribe(channel)  # confirmed as the reader reads
                await self._settle(connection)
            except BaseException:
                self._connection = None
                await connection.close()
                raise
            return connection
        finally:
            self._connecting = None
            if not attempt.done():
                attempt.set_result(None)

    async def _open(self) -> PubSubConnection | None:
        pubsub = self._client.pubsub()
        try:
            async with asyncio.timeout(_CONNECT_SECONDS):
                await pubsub.connect()  # type: ignore[no-untyped-call]
        except FAILURES as error:
            log.warning(
                "could not connect redis pub/sub (%s: %s); retrying", type(error).__name__, error
            )
            self._missed = True
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            return None
        except BaseException:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        return PubSubConnection(pubsub)

    async def _settle(self, connection: PubSubConnection) -> None:
        """Once Redis has answered every subscription a new connection asked for, the
        connection is settled: Redis answers in order, so a ping sent after them tells when."""
        if connection.subscribed:
            pong = await connection.ping()
            pong.add_done_callback(self._settled_if_answered)
        else:
            self._settled()

    def _settled_if_answered(self, pong: asyncio.Future[Answer]) -> None:
        # Not answered: the connection was lost before it settled, and the next one will.
        if not pong.cancelled() and pong.result() is Answer.GIVEN:
            self._settled()

    def _settled(self) -> None:
        if self._settled_before:
            self.reconnects += 1
            log.info("redis pub/sub reconnected and resubscribed (%d so far)", self.reconnects)
        self._settled_before = True
        if self._missed:
            self._missed = False
            self._deliver(Reconnected())

    async def _listen(self, connection: PubSubConnection) -> None:
        """Read the connection, and watch it, until it is lost (logged)."""
        watchdog = asyncio.create_task(self._watch(connection))
        try:
            await self._read(connection)
        except FAILURES as error:
            log.warning(
                "redis pub/sub connection lost (%s: %s); reconnecting", type(error).__name__, error
            )
        except Exception:
            log.exception("reading redis pub/sub failed; reconnecting")
        finally:
            watchdog.cancel()
            self._connection = None
            self._missed = True
            await connection.close()

    async def _read(self, connection: PubSubConnection) -> None:
        """Hand on what Redis sends until the connection is dropped (and said why); raise
        when it is lost."""
        with contextlib.suppress(TimeoutError):  # the deadline, which ``drop`` set to now
            async with asyncio.timeout(None) as deadline:
                connection.deadline = deadline
                try:
                    while not connection.lost:
                        await self._read_while_subscribed(connection)
                finally:
                    connection.deadline = None

    async def _read_while_subscribed(self, connection: PubSubConnection) -> None:
        pubsub = connection.pubsub
        if not pubsub.subscribed:
            # Nothing to read; and redis-py, sending a SUBSCRIBE now, may check the
            # connection's health by reading a PING's reply: it must be the only reader.
            connection.sent.clear()
            if not pubsub.subscribed:
                await connection.sent.wait()
            return
        deliver = self._deliver
        try:
            # ``parse_response`` is the cheapest public read that waits as long as it takes:
            # a message (all but a few replies) skips ``handle_message``, which builds a dict
            # and looks for a handler, and no timeout is armed per read as
            # ``get_message(timeout=...)`` does.
            while pubsub.subscribed and not connection.lost:
                reply = await pubsub.parse_response(block=True)
                if reply is None:
                    continue  # the pong of redis-py's own health check
                if reply[0] == b"message":
                    deliver(Delivery(reply[1].decode(), reply[2]))
                else:  # a confirmation or a pong, through redis-py's bookkeeping
                    handled = await pubsub.handle_message(reply)  # type: ignore[no-untyped-call]
                    connection.answered(handled)
        except ResponseError as refusal:
            connection.refused(refusal)

    async def _watch(self, connection: PubSubConnection) -> None:
        """Ping the connection every health-check interval; drop it if a ping goes
        unanswered for one (a half-open connection would never close by itself)."""
        interval = connection.health_check_seconds
        while True:
            await asyncio.sleep(interval)
            if not connection.pubsub.subscribed:
                continue  # not read now: a pong would not be heard
            pong = await connection.ping()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await asyncio.shield(pong)
            if not pong.done() and connection.pubsub.subscribed:
                connection.drop(f"did not answer a ping within {interval:g} s")
