"""Contract suites: one set of tests per seam, run on the memory and the Redis backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis

from parley.composition.seams import redis_client
from parley.realtime.broker import Broker
from parley.realtime.memory_broker import MemoryBroker, MemoryBus

REDIS_URL = "redis://127.0.0.1:6379/0"

BrokerFactory = Callable[[], Broker]


@pytest.fixture
def namespace() -> str:
    """A key and channel prefix of this test's own on the shared Redis."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_connection(namespace: str) -> AsyncIterator[redis.Redis]:
    client = redis_client(REDIS_URL)
    yield client
    keys = [key async for key in client.scan_iter(f"{namespace}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_broker(request: pytest.FixtureRequest) -> AsyncIterator[BrokerFactory]:
    """Makes brokers that share one medium, as the instances of a cluster do."""
    made: list[Broker] = []
    clients: list[redis.Redis] = []
    bus = MemoryBus()

    def make() -> Broker:
        broker: Broker
        if request.param == "memory":
            broker = MemoryBroker(bus)
        else:
            from parley.realtime.redis_broker import RedisBroker  # noqa: PLC0415

            client = redis_client(REDIS_URL)
            clients.append(client)
            broker = RedisBroker(client)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()
    for client in clients:
        await client.aclose()
