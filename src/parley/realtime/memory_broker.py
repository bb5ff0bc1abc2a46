"""An in-process broker for the embedded default (and for tests of several "instances")."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

from parley.realtime.broker import BrokerEvent, Delivery

__all__ = ["MemoryBroker", "MemoryBus"]


class MemoryBus:
    """What Redis is to the Redis broker: the shared medium several brokers attach to."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[MemoryBroker]] = defaultdict(set)

    def publish(self, channel: str, data: bytes) -> None:
        for broker in self._subscribers.get(channel, ()):
            broker.receive(Delivery(channel, data))

    def subscribe(self, channel: str, broker: MemoryBroker) -> None:
        self._subscribers[channel].add(broker)

    def unsubscribe(self, channel: str, broker: MemoryBroker) -> None:
        subscribers = self._subscribers.get(channel)
        if subscribers is not None:
            subscribers.discard(broker)
            if not subscribers:
                del self._subscribers[channel]


class MemoryBroker:
    def __init__(self, bus: MemoryBus | None = None) -> None:
        self._bus = bus or MemoryBus()
        self._channels: set[str] = set()
        self._inbox: asyncio.Queue[BrokerEvent] = asyncio.Queue()
        self.reconnects = 0  # nothing to lose in one process

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        for channel in list(self._channels):
            await self.unsubscribe(channel)

    async def publish(self, channel: str, data: bytes) -> None:
        self._bus.publish(channel, data)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._bus.subscribe(channel, self)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._bus.unsubscribe(channel, self)

    def receive(self, event: BrokerEvent) -> None:
        self._inbox.put_nowait(event)

    async def events(self) -> AsyncIterator[BrokerEvent]:
        while True:
            yield await self._inbox.get()

    async def ping(self) -> None:
        pass
