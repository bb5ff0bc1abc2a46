"""The Redis pub/sub broker: one publishing connection and one listening connection per process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as redis

from parley.realtime.broker import BrokerEvent
from parley.realtime.redis_link import RedisAddress
from parley.realtime.redis_publisher import RedisPublisher
from parley.realtime.redis_subscriber import RedisSubscriber

__all__ = ["RedisBroker"]


class RedisBroker:
    """Publishes through a ``RedisPublisher``, listens through a ``RedisSubscriber``.

    Both speak to Redis on connections of their own, made from the client's address, and
    read with hiredis in the event loop's callbacks: they are the hot paths of fan-out. The
    client itself serves ``ping`` (readiness) and the tests.

    A publish never waits for Redis, and a lost event is recovered by readers from the
    database; the subscriber says ``Reconnected`` after it had to make its connection
    again, and the hub then re-reads its rooms.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        address = RedisAddress.of(client)
        self._publisher = RedisPublisher(address)
        self._subscriber = RedisSubscriber(address)

    @property
    def reconnects(self) -> int:
        return self._subscriber.reconnects

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        await self._publisher.close()
        await self._subscriber.close()

    async def publish(self, channel: str, data: bytes) -> None:
        self._publisher.publish(channel, data)

    async def subscribe(self, channel: str) -> None:
        await self._subscriber.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._subscriber.unsubscribe(channel)

    async def ping(self) -> None:
        await self._client.ping()

    def events(self) -> AsyncIterator[BrokerEvent]:
        return self._subscriber.events()
