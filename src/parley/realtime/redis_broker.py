"""The Redis pub/sub broker, on the redis-py client it is given: a pipeline for publishing and
one ``PubSub`` connection for listening, per process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as redis

from parley.realtime.broker import BrokerEvent
from parley.realtime.pipelined_publisher import PipelinedPublisher
from parley.realtime.pubsub_listener import PubSubListener

__all__ = ["RedisBroker"]


class RedisBroker:
    """Publishes through a ``PipelinedPublisher``, listens through a ``PubSubListener``.

    Both use the client as it was made (a URL's TLS, Unix socket, password and timeouts; a
    Sentinel's master), which also serves ``ping`` (readiness). Its replies must stay bytes
    (``decode_responses`` off, the default): events are bytes.

    A publish never waits for Redis, and a lost event is recovered by readers from the
    database; the listener says ``Reconnected`` after it had to make its connection again,
    and the hub then re-reads its rooms.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._publisher = PipelinedPublisher(client)
        self._listener = PubSubListener(client)

    @property
    def reconnects(self) -> int:
        return self._listener.reconnects

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        await self._publisher.close()
        await self._listener.close()

    async def publish(self, channel: str, data: bytes) -> None:
        self._publisher.publish(channel, data)

    async def subscribe(self, channel: str) -> None:
        await self._listener.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._listener.unsubscribe(channel)

    async def ping(self) -> None:
        await self._client.ping()

    def events(self) -> AsyncIterator[BrokerEvent]:
        return self._listener.events()
