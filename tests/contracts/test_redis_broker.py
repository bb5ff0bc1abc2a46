"""The Redis broker's connection, over what happens to Redis: restarts, silence, a password,
a Unix socket. Parley reads pub/sub itself (``redis_subscriber.py``), so what redis-py used
to do for it is shown here. The contract both brokers keep is in ``test_broker.py``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import hiredis
import pytest
import redis.asyncio as redis
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError

from parley.composition.seams import redis_client
from parley.realtime.broker import BrokerEvent, Delivery, Reconnected
from parley.realtime.redis_broker import RedisBroker
from parley.realtime.redis_link import RedisAddress
from parley.realtime.redis_publisher import RedisPublisher
from parley.realtime.redis_subscriber import RedisSubscriber
from tests.support.ports import free_port
from tests.support.processes import RedisServer
from tests.support.waiting import eventually


def _channel() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:room:x"


async def _next(events: AsyncIterator[BrokerEvent], within: float = 10) -> BrokerEvent:
    async with asyncio.timeout(within):
        return await anext(events)


@contextlib.asynccontextmanager
async def _listening(
    url: str,
) -> AsyncIterator[tuple[RedisBroker, str, AsyncIterator[BrokerEvent]]]:
    """A broker on ``url`` subscribed to a channel of its own: it, the channel, its events."""
    client = redis_client(url)
    broker = RedisBroker(client)
    try:
        channel = _channel()
        events = broker.events()
        await broker.subscribe(channel)
        yield broker, channel, events
    finally:
        await broker.close()
        await client.aclose()


async def _round_trip(url: str) -> None:
    """An event published through a broker on ``url`` comes back to it."""
    async with _listening(url) as (broker, channel, events):
        await broker.publish(channel, b"there and back")
        assert await _next(events) == Delivery(channel, b"there and back")


@pytest.fixture
async def broker(private_redis: RedisServer) -> AsyncIterator[RedisBroker]:
    client = redis_client(private_redis.url)
    broker = RedisBroker(client)
    await broker.start()
    yield broker
    await broker.close()
    await client.aclose()


async def test_redis_restarted_the_subscriptions_come_back_and_it_says_so(
    private_redis: RedisServer, broker: RedisBroker
) -> None:
    channel = _channel()
    events = broker.events()
    await broker.subscribe(channel)
    await private_redis.kill()
    await private_redis.start()
    assert await _next(events) == Reconnected()
    await broker.publish(channel, b"after")
    assert await _next(events) == Delivery(channel, b"after")
    assert broker.reconnects == 1


async def _kill_clients_named(client: redis.Redis, name: str) -> int:
    named = [entry["id"] for entry in await client.client_list() if entry["name"] == name]
    for client_id in named:
        await client.client_kill_filter(_id=client_id)
    return len(named)


def _sent_bytes(*command: str | bytes) -> int:
    """The size of ``command`` as a client sends it to Redis."""
    packed: bytes = hiredis.pack_command(command)  # type: ignore[arg-type]  # typed as one item
    return len(packed)


async def _held_bytes(client: redis.Redis, name: str) -> int:
    """What the connection named ``name`` sent that a paused Redis has not read yet."""
    [entry] = [entry for entry in await client.client_list() if entry["name"] == name]
    return int(entry["qbuf"]) if "b" in entry["flags"] else 0  # "b": blocked by the pause


async def test_the_publishing_connection_killed_the_next_events_still_go_out(
    private_redis: RedisServer, broker: RedisBroker
) -> None:
    """Killed between two events, and killed under events Redis has not answered yet (held
    by ``CLIENT PAUSE ... WRITE``, which ``CLIENT KILL`` discards): none is lost."""
    channel = _channel()
    events = broker.events()
    await broker.subscribe(channel)
    await broker.publish(channel, b"before")
    assert await _next(events) == Delivery(channel, b"before")
    admin = redis_client(private_redis.url)
    try:
        assert await _kill_clients_named(admin, "parley:pub") == 1
        await broker.publish(channel, b"after")
        assert await _next(events) == Delivery(channel, b"after")

        await admin.client_pause(10_000, all=False)
        for n in range(50):
            await broker.publish(channel, str(n).encode())
        # Written, held unanswered: Redis holds the first and has the other 49 unread.
        unread = sum(_sent_bytes("PUBLISH", channel, str(n).encode()) for n in range(1, 50))
        await eventually(
            lambda: _held_bytes(admin, "parley:pub"),
            lambda held: held >= unread,
            what=f"{unread} bytes of publishes held by the paused Redis",
        )
        assert await _kill_clients_named(admin, "parley:pub") == 1
        await admin.client_unpause()
        received = [await _next(events) for _ in range(50)]
    finally:
        await admin.aclose()
    assert received == [Delivery(channel, str(n).encode()) for n in range(50)]


async def test_a_channel_subscribed_while_redis_is_away_is_subscribed_when_it_is_back(
    private_redis: RedisServer, broker: RedisBroker
) -> None:
    first, second = _channel(), _channel()
    events = broker.events()
    await broker.subscribe(first)
    await private_redis.kill()
    async with asyncio.timeout(5):  # it does not wait for Redis to come back
        await broker.subscribe(second)
    await private_redis.start()
    assert await _next(events) == Reconnected()
    await broker.publish(second, b"to the late one")
    assert await _next(events) == Delivery(second, b"to the late one")


async def test_a_silent_redis_is_dropped_and_the_connection_made_again(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A frozen Redis keeps its sockets open and answers nothing, as a half-open link."""
    client = redis_client(private_redis.url)
    address = dataclasses.replace(RedisAddress.of(client), health_check_seconds=0.2)
    subscriber = RedisSubscriber(address)
    try:
        channel = _channel()
        events = subscriber.events()
        await subscriber.subscribe(channel)
        private_redis.freeze()
        await eventually(
            lambda: "did not answer a ping; dropping the connection" in caplog.text,
            what="the silent connection dropped",
        )
        private_redis.thaw()
        assert await _next(events) == Reconnected()
        assert subscriber.reconnects == 1
        await client.publish(channel, b"after")
        assert await _next(events) == Delivery(channel, b"after")
    finally:
        private_redis.thaw()
        await subscriber.close()
        await client.aclose()


@pytest.mark.parametrize("user", ["", "parley"], ids=["password", "user and password"])
async def test_a_password_protected_redis(private_redis: RedisServer, user: str) -> None:
    admin = redis_client(private_redis.url)
    if user:
        await admin.acl_setuser(
            user,
            enabled=True,
            passwords=["+secret"],
            keys=["*"],
            channels=["*"],
            commands=["+@all"],
        )
    await admin.config_set("requirepass", "secret")  # the default user's, too
    await admin.aclose()
    await _round_trip(f"redis://{user}:secret@127.0.0.1:{private_redis.port}/0")


async def test_a_unix_socket(private_redis: RedisServer) -> None:
    await _round_trip(f"unix://{private_redis.socket_path}")


@pytest.fixture
async def tls_redis(tmp_path: Path) -> AsyncIterator[str]:
    """A Redis speaking TLS only, with a certificate made for it: its ``rediss://`` URL."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate = await asyncio.create_subprocess_exec(
        *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
        *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
        *("-addext", "subjectAltName=IP:127.0.0.1"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await certificate.wait() == 0
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        "redis-server",
        *("--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"),
        *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
        *("--tls-ca-cert-file", str(cert), "--save", "", "--dir", str(tmp_path)),
        stdout=asyncio.subprocess.DEVNULL,
    )
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    client = redis_client(url)
    try:
        await eventually(
            client.ping,
            within=30,
            every=0.05,
            what="TLS Redis up",
            ignoring=(RedisConnectionError,),
        )
    finally:
        await client.aclose()
    yield url
    server.kill()
    await server.wait()


async def test_tls(tls_redis: str) -> None:
    await _round_trip(tls_redis)


def test_on_uvloop_as_parley_serve_runs_it(private_redis: RedisServer) -> None:
    """uvloop's transports are not ``asyncio``'s classes: the same round trip and reconnection
    on the event loop the server runs."""

    async def round_trip() -> None:
        async with _listening(private_redis.url) as (broker, channel, events):
            await broker.publish(channel, b"on uvloop")
            assert await _next(events) == Delivery(channel, b"on uvloop")
            admin = redis_client(private_redis.url)
            await admin.client_kill_filter(_type="pubsub")
            await admin.aclose()
            assert await _next(events) == Reconnected()
            await broker.publish(channel, b"again")
            assert await _next(events) == Delivery(channel, b"again")

    uvloop.run(round_trip())


async def test_closing_while_redis_cannot_be_reached() -> None:
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    broker = RedisBroker(client)
    try:
        channel = _channel()
        async with asyncio.timeout(10):
            await broker.subscribe(channel)  # logged, for later
            await broker.publish(channel, b"dropped")  # a connection is being made
            await broker.close()
            await broker.publish(channel, b"after close")  # dropped, nothing started
            await broker.subscribe(channel)
    finally:
        await client.aclose()


async def test_a_channel_the_acl_refuses(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis answers SUBSCRIBE with an error: ``subscribe`` says so and returns, and a channel
    subscribed after it still works."""
    admin = redis_client(private_redis.url)
    allowed = _channel()
    await admin.acl_setuser(
        "narrow",
        enabled=True,
        passwords=["+secret"],
        channels=[allowed],
        commands=["+@all"],
    )
    await admin.aclose()
    client = redis_client(f"redis://narrow:secret@127.0.0.1:{private_redis.port}/0")
    broker = RedisBroker(client)
    try:
        events = broker.events()
        async with asyncio.timeout(5):
            await broker.subscribe(_channel())
        assert "redis refused to subscribe" in caplog.text
        await broker.subscribe(allowed)
        await broker.publish(allowed, b"allowed")
        assert await _next(events) == Delivery(allowed, b"allowed")
    finally:
        await broker.close()
        await client.aclose()


async def test_publishes_redis_leaves_unanswered_go_out_again_on_a_new_connection(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection that answers nothing for a health-check interval is dropped: the events
    held by ``CLIENT PAUSE ... WRITE`` go out again once Redis answers."""
    client = redis_client(private_redis.url)
    address = dataclasses.replace(RedisAddress.of(client), health_check_seconds=0.2)
    publisher, subscriber = RedisPublisher(address), RedisSubscriber(address)
    try:
        channel = _channel()
        events = subscriber.events()
        await subscriber.subscribe(channel)
        publisher.publish(channel, b"first")
        assert await _next(events) == Delivery(channel, b"first")
        await client.client_pause(10_000, all=False)
        publisher.publish(channel, b"held")
        await eventually(
            lambda: "did not answer a publish" in caplog.text, what="the silent connection dropped"
        )
        await client.client_unpause()
        assert await _next(events) == Delivery(channel, b"held")
    finally:
        await publisher.close()
        await subscriber.close()
        await client.aclose()
