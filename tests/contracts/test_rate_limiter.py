"""The RateLimiter contract, in memory and on Redis."""

from __future__ import annotations

import asyncio
import math
import time
import uuid

import pytest
import redis.asyncio as redis

from parley.ratelimit import RateLimiter, Rule, memory_rate_limiter, redis_rate_limiter
from tests.contracts.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def limiter(
    request: pytest.FixtureRequest, namespace: str, redis_connection: redis.Redis
) -> RateLimiter:
    if request.param == "memory":
        return memory_rate_limiter()
    return redis_rate_limiter(redis_connection, REDIS_URL, namespace=namespace)


def _identity() -> str:
    return uuid.uuid4().hex


def _a_minute_less(started: float) -> int:
    """The least wait, in whole seconds, that a one-minute window first hit after
    ``started`` can have left now: 60 within the first second."""
    return 60 - math.floor(time.time() - started)


async def test_a_limit_trips_after_its_count(limiter: RateLimiter) -> None:
    rule, who = Rule("login", "3/minute"), _identity()
    started = time.time()
    assert [await limiter.hit(rule, who) for _ in range(3)] == [None, None, None]
    wait = await limiter.hit(rule, who)
    assert wait is not None
    assert _a_minute_less(started) <= wait <= 60


async def test_identities_and_rules_count_apart(limiter: RateLimiter) -> None:
    login, messages, who = Rule("login", "1/minute"), Rule("messages", "1/minute"), _identity()
    assert await limiter.hit(login, who) is None
    assert await limiter.hit(login, _identity()) is None
    assert await limiter.hit(messages, who) is None
    assert await limiter.hit(login, who) is not None


async def test_a_limit_resets_after_its_window(limiter: RateLimiter) -> None:
    rule, who = Rule("messages", "2/1 second"), _identity()
    await limiter.hit(rule, who)
    await limiter.hit(rule, who)
    assert await limiter.hit(rule, who) is not None
    await asyncio.sleep(1.1)
    assert await limiter.hit(rule, who) is None


async def test_switched_off_it_never_limits(namespace: str, redis_connection: redis.Redis) -> None:
    for limiter in (
        memory_rate_limiter(enabled=False),
        redis_rate_limiter(redis_connection, REDIS_URL, namespace=namespace, enabled=False),
    ):
        rule, who = Rule("login", "1/minute"), _identity()
        assert [await limiter.hit(rule, who) for _ in range(5)] == [None] * 5
        assert await limiter.peek(rule, who) is None


async def test_a_peek_counts_nothing_and_sees_a_full_window(limiter: RateLimiter) -> None:
    rule, who = Rule("login", "2/minute"), _identity()
    assert [await limiter.peek(rule, who) for _ in range(5)] == [None] * 5  # nothing counted
    started = time.time()
    await limiter.hit(rule, who)
    assert await limiter.peek(rule, who) is None
    await limiter.hit(rule, who)
    wait = await limiter.peek(rule, who)
    assert wait is not None
    assert _a_minute_less(started) <= wait <= 60
    assert await limiter.peek(rule, _identity()) is None
