"""The Redis pub/sub broker: one publishing client and one listening connection per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from parley.realtime.broker import BrokerEvent, Delivery, Reconnected

__all__ = ["RedisBroker"]

log = logging.getLogger(__name__)

_IDLE_POLL_SECONDS = 1.0
_MAX_BACKOFF_SECONDS = 2.0
_CLOSE_SECONDS = 2.0  # to write what is left in the outbox when the process stops


class RedisBroker:
    """Reads pub/sub on one connection and reconnects by itself; publishes through an outbox.

    redis-py re-subscribes a pub/sub connection when it reconnects; a callback registered on
    that connection tells us it happened, and we pass a ``Reconnected`` event on so the hub
    re-reads from the database whatever was published while the connection was down.

    ``publish`` puts the event in an outbox and returns; one task writes the outbox in order,
    everything waiting at once in one pipelined round trip, on a connection of its own. A
    send does not wait for Redis, and a busy instance pays one write for many events. An
    event that cannot be written is logged and dropped: readers recover it from the
    database, as any lost pub/sub event.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        # The channels asked for: subscribed again whenever Redis is back, even those whose
        # first SUBSCRIBE failed because Redis was away at the time.
        self._wanted: set[str] = set()
        self._subscribed = asyncio.Event()
        self._reconnected = False
        # Whether a wanted channel may be unsubscribed (a SUBSCRIBE failed, or the connection
        # was lost): only then is the subscription list compared, not on every message.
        self._maybe_missing = False
        self._watching: Any = None
        self.reconnects = 0
        self._outbox: list[tuple[str, bytes]] = []
        self._outbox_filled = asyncio.Event()
        self._closing = False
        self._publishing: asyncio.Task[None] | None = None
        # Connects when first used, and again after a failure.
        self._publisher = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        if self._publishing is not None:
            # Write what is in the outbox, then stop.
            self._closing = True
            self._outbox_filled.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._publishing), _CLOSE_SECONDS)
            self._publishing.cancel()
        await self._publisher.disconnect()
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def publish(self, channel: str, data: bytes) -> None:
        self._outbox.append((channel, data))
        self._outbox_filled.set()
        if self._publishing is None or self._publishing.done():
            self._publishing = asyncio.create_task(self._publish_outbox())

    async def _publish_outbox(self) -> None:
        while True:
            await self._outbox_filled.wait()
            self._outbox_filled.clear()
            if not self._outbox:
                if self._closing:
                    return
                continue
            batch, self._outbox = self._outbox, []
            try:
                await self._write(batch)
            except (RedisError, OSError) as error:
                log.warning(
                    "could not publish %d events (%s); readers recover them from the database",
                    len(batch),
                    error,
                )

    async def _write(self, batch: list[tuple[str, bytes]]) -> None:
        try:
            await self._pipelined(batch)
        except (RedisConnectionError, RedisTimeoutError):
            # A connection that died with a Redis restart fails once; a fresh one usually
            # works.
            await self._pipelined(batch)

    async def _pipelined(self, batch: list[tuple[str, bytes]]) -> None:
        # The outbox's task is the only user of this connection, so it skips the pool's
        # checkout and its checks, which cost a publish more CPU than writing it.
        connection = self._publisher
        commands = [("PUBLISH", channel, data) for channel, data in batch]
        try:
            await connection.send_packed_command(connection.pack_commands(commands))
            for _ in batch:
                await connection.read_response()
        except Exception:
            # Replies may be left unread: the next batch starts on a fresh connection.
            await connection.disconnect()
            raise

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        self._subscribed.set()
        try:
            await self._pubsub.subscribe(channel)
            self._watch_connection()
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            log.warning("could not subscribe %s now (%s); will when Redis is back", channel, error)
            self._reconnected = True
            self._maybe_missing = True

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        # A connection that is gone has no subscriptions left to drop.
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
            await self._pubsub.unsubscribe(channel)

    async def ping(self) -> None:
        await self._client.ping()

    async def events(self) -> AsyncIterator[BrokerEvent]:
        backoff = 0.05
        while True:
            await self._subscribed.wait()
            try:
                if self._maybe_missing:
                    await self._subscribe_missing()
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=_IDLE_POLL_SECONDS
                )
            except (RedisError, OSError) as error:
                log.warning("redis pub/sub connection lost (%s); reconnecting", error)
                self._reconnected = True
                self._maybe_missing = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.05
            if self._reconnected:
                self._reconnected = False
                yield Reconnected()
            if message is not None and message["type"] == "message":
                yield Delivery(message["channel"].decode(), message["data"])

    async def _subscribe_missing(self) -> None:
        current = {
            channel.decode() if isinstance(channel, bytes) else channel
            for channel in self._pubsub.channels
        }
        missing = self._wanted - current
        if missing:
            await self._pubsub.subscribe(*missing)
            self._watch_connection()
        self._maybe_missing = False

    def _watch_connection(self) -> None:
        connection: Any = self._pubsub.connection  # redis-py leaves it unannotated
        if connection is None or connection is self._watching:
            return
        self._watching = connection
        # Registered after the first connect, so it runs on reconnections only (redis-py
        # keeps a weak reference, hence a bound method).
        connection.register_connect_callback(self._on_reconnect)

    async def _on_reconnect(self, _connection: Any) -> None:
        self.reconnects += 1
        self._reconnected = True
        self._maybe_missing = True
        log.info("redis pub/sub reconnected and resubscribed (%d so far)", self.reconnects)
