"""The Presence contract, in memory and on Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from parley.realtime.presence import MemoryPresence, Presence, RedisPresence
from tests.support.clocks import FrozenClock


@pytest.fixture(params=["memory", "redis"])
async def presence(
    request: pytest.FixtureRequest, redis_connection: redis.Redis, namespace: str
) -> AsyncIterator[Presence]:
    if request.param == "memory":
        yield MemoryPresence()
    else:
        yield RedisPresence(redis_connection, namespace=namespace, ttl=30)


async def test_first_connection_brings_a_user_online(presence: Presence) -> None:
    user, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert await presence.connect(user, first) is True
    assert await presence.connect(user, second) is False
    assert await presence.online([user, uuid.uuid4()]) == {user}


async def test_last_connection_takes_a_user_offline(presence: Presence) -> None:
    user, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await presence.connect(user, first)
    await presence.connect(user, second)
    assert await presence.disconnect(user, first) is False
    assert await presence.disconnect(user, second) is True
    assert await presence.online([user]) == set()


async def test_an_unknown_disconnect_changes_nothing(presence: Presence) -> None:
    user = uuid.uuid4()
    assert await presence.disconnect(user, uuid.uuid4()) is False
    await presence.connect(user, conn := uuid.uuid4())
    assert await presence.disconnect(user, uuid.uuid4()) is False
    assert await presence.online([user]) == {user}
    assert await presence.disconnect(user, conn) is True


async def test_users_are_independent(presence: Presence) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await presence.connect(alice, uuid.uuid4())
    await presence.connect(bob, bob_conn := uuid.uuid4())
    await presence.disconnect(bob, bob_conn)
    assert await presence.online([alice, bob]) == {alice}


async def test_refreshed_connections_survive_a_sweep(presence: Presence) -> None:
    user, conn = uuid.uuid4(), uuid.uuid4()
    await presence.connect(user, conn)
    await presence.refresh([(user, conn)])
    assert await presence.sweep() == []
    assert await presence.online([user]) == {user}


async def test_redis_connections_of_a_dead_instance_expire(
    redis_connection: redis.Redis, namespace: str
) -> None:
    """Redis only: an instance that stops refreshing loses its users after the ttl, and
    exactly one sweeper reports each of them offline."""
    clock = FrozenClock(time.time())
    dead = RedisPresence(redis_connection, namespace=namespace, ttl=0.2, clock=clock.time)
    alive = RedisPresence(redis_connection, namespace=namespace, ttl=30, clock=clock.time)
    gone, staying = uuid.uuid4(), uuid.uuid4()
    await dead.connect(gone, uuid.uuid4())
    await alive.connect(staying, uuid.uuid4())
    clock.advance(0.4)
    assert await alive.online([gone, staying]) == {staying}
    sweeps = await asyncio.gather(alive.sweep(), alive.sweep(), dead.sweep())
    assert sorted(user for swept in sweeps for user in swept) == [gone]
