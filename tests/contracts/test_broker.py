"""The Broker contract, on the in-process broker and on Redis pub/sub."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from parley.composition.seams import redis_client
from parley.realtime.broker import Broker, BrokerEvent, Delivery, Reconnected
from parley.realtime.redis_broker import RedisBroker
from tests.contracts.conftest import BrokerFactory
from tests.support.processes import RedisServer


def _channel() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:room:x"


async def _next(events: AsyncIterator[BrokerEvent], within: float = 5) -> BrokerEvent:
    async with asyncio.timeout(within):
        return await anext(events)


async def _nothing(events: AsyncIterator[BrokerEvent], within: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await _next(events, within)


async def _ready(broker: Broker) -> AsyncIterator[BrokerEvent]:
    await broker.start()
    return broker.events()


async def test_a_subscriber_receives_what_is_published(make_broker: BrokerFactory) -> None:
    publisher, subscriber = make_broker(), make_broker()
    channel = _channel()
    events = await _ready(subscriber)
    await subscriber.subscribe(channel)
    await publisher.publish(channel, b"hello")
    assert await _next(events) == Delivery(channel, b"hello")


async def test_a_broker_hears_its_own_publications(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    channel = _channel()
    events = await _ready(broker)
    await broker.subscribe(channel)
    await broker.publish(channel, b"echo")
    assert await _next(events) == Delivery(channel, b"echo")


async def test_other_channels_are_not_delivered(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    mine, other = _channel(), _channel()
    events = await _ready(broker)
    await broker.subscribe(mine)
    await broker.publish(other, b"not for me")
    await _nothing(events)


async def test_unsubscribe_stops_delivery(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    channel = _channel()
    events = await _ready(broker)
    await broker.subscribe(channel)
    await broker.publish(channel, b"one")
    assert await _next(events) == Delivery(channel, b"one")
    await broker.unsubscribe(channel)
    await broker.publish(channel, b"two")
    await _nothing(events)


async def test_one_publisher_s_order_is_kept(make_broker: BrokerFactory) -> None:
    publisher, subscriber = make_broker(), make_broker()
    channel = _channel()
    events = await _ready(subscriber)
    await subscriber.subscribe(channel)
    for n in range(200):
        await publisher.publish(channel, str(n).encode())
    received = [await _next(events) for _ in range(200)]
    assert received == [Delivery(channel, str(n).encode()) for n in range(200)]


async def test_every_subscribed_broker_receives(make_broker: BrokerFactory) -> None:
    brokers = [make_broker() for _ in range(3)]
    channel = _channel()
    streams = [await _ready(broker) for broker in brokers]
    for broker in brokers:
        await broker.subscribe(channel)
    await brokers[0].publish(channel, b"all")
    for events in streams:
        assert await _next(events) == Delivery(channel, b"all")


async def test_binary_payloads_arrive_intact(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    channel = _channel()
    events = await _ready(broker)
    await broker.subscribe(channel)
    payload = bytes(range(256)) * 4
    await broker.publish(channel, payload)
    assert await _next(events) == Delivery(channel, payload)


async def test_ping_answers(make_broker: BrokerFactory) -> None:
    await make_broker().ping()


# Redis only, so not on ``make_broker``: a Redis broker has connections to lose, the memory
# broker none.
StartedRedisBroker = tuple[RedisBroker, str, AsyncIterator[BrokerEvent]]


@pytest.fixture
async def redis_past_one_event(private_redis: RedisServer) -> AsyncIterator[StartedRedisBroker]:
    """A Redis broker listening to a channel that has carried one event, on a Redis of the
    test's own: what it does to connections must not reach other tests' (other workers')."""
    client = redis_client(private_redis.url)
    broker = RedisBroker(client)
    try:
        channel = _channel()
        events = await _ready(broker)
        await broker.subscribe(channel)
        await broker.publish(channel, b"before")
        assert await _next(events) == Delivery(channel, b"before")
        yield broker, channel, events
    finally:
        await broker.close()
        await client.aclose()


async def test_redis_pubsub_killed_reconnects_and_says_so(
    redis_past_one_event: StartedRedisBroker,
) -> None:
    """``CLIENT KILL TYPE pubsub`` cuts the listening connection alone."""
    broker, channel, events = redis_past_one_event
    killed = await broker._client.client_kill_filter(_type="pubsub", skipme=False)
    assert killed == 1
    assert await _next(events) == Reconnected()
    await broker.publish(channel, b"after")
    assert await _next(events) == Delivery(channel, b"after")
    assert broker.reconnects == 1
