"""The Redis pub/sub broker: one publishing connection and one listening connection per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from parley.realtime.broker import BrokerEvent
from parley.realtime.redis_subscriber import RedisAddress, RedisSubscriber

__all__ = ["RedisBroker"]

log = logging.getLogger(__name__)

_CLOSE_SECONDS = 2.0  # to write what is left in the outbox when the process stops


class RedisBroker:
    """Listens through a ``RedisSubscriber``; publishes through an outbox.

    The subscriber keeps one pub/sub connection subscribed, makes it again when it is lost
    and then says ``Reconnected``, so the hub re-reads from the database whatever was
    published while the connection was down.

    ``publish`` puts the event in an outbox and returns; one task writes the outbox in order,
    everything waiting at once in one pipelined round trip, on a connection of its own. A
    send does not wait for Redis, and a busy instance pays one write for many events. An
    event that cannot be written is logged and dropped: readers recover it from the
    database, as any lost pub/sub event.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._subscriber = RedisSubscriber(RedisAddress.of(client))
        self._outbox: list[tuple[str, bytes]] = []
        self._outbox_filled = asyncio.Event()
        self._closing = False
        self._publishing: asyncio.Task[None] | None = None
        # Connects when first used, and again after a failure.
        self._publisher = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]

    @property
    def reconnects(self) -> int:
        return self._subscriber.reconnects

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
        await self._subscriber.close()

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
        await self._subscriber.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._subscriber.unsubscribe(channel)

    async def ping(self) -> None:
        await self._client.ping()

    def events(self) -> AsyncIterator[BrokerEvent]:
        return self._subscriber.events()
