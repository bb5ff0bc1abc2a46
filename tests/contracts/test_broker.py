"""The Broker contract, on the in-process broker and on Redis pub/sub."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from parley.realtime.broker import Broker, BrokerEvent, Delivery, Reconnected
from parley.realtime.redis_broker import RedisBroker
from tests.contracts.conftest import BrokerFactory


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


async def _redis_broker_past_one_event(
    make_broker: BrokerFactory, request: pytest.FixtureRequest
) -> tuple[RedisBroker, str, AsyncIterator[BrokerEvent]] | None:
    """A Redis broker listening to a channel that has carried one event; None for the memory
    broker, which has no connection to lose: those contracts hold for it vacuously."""
    if not isinstance(broker := make_broker(), RedisBroker):
        assert request.node.callspec.params["make_broker"] == "memory"
        return None
    channel = _channel()
    events = await _ready(broker)
    await broker.subscribe(channel)
    await broker.publish(channel, b"before")
    assert await _next(events) == Delivery(channel, b"before")
    return broker, channel, events


async def test_redis_pubsub_killed_reconnects_and_says_so(
    make_broker: BrokerFactory, request: pytest.FixtureRequest
) -> None:
    """Redis only: ``CLIENT KILL TYPE pubsub`` cuts the listening connection alone."""
    if (started := await _redis_broker_past_one_event(make_broker, request)) is None:
        return
    broker, channel, events = started
    killed = await broker._client.client_kill_filter(_type="pubsub", skipme=False)
    assert killed >= 1
    assert await _next(events) == Reconnected()
    await broker.publish(channel, b"after")
    assert await _next(events) == Delivery(channel, b"after")
    assert broker.reconnects == 1


async def test_redis_publishing_connection_killed_the_next_event_still_goes_out(
    make_broker: BrokerFactory, request: pytest.FixtureRequest
) -> None:
    """Redis only: the outbox's own connection cut by ``CLIENT KILL``, between two events."""
    if (started := await _redis_broker_past_one_event(make_broker, request)) is None:
        return
    broker, channel, events = started
    publisher = broker._publisher  # idle now: the event before is written and answered
    await publisher.send_command("CLIENT", "ID")
    publisher_id = await publisher.read_response()
    assert await broker._client.client_kill_filter(_id=str(publisher_id)) == 1
    await broker.publish(channel, b"after")
    assert await _next(events) == Delivery(channel, b"after")
