"""The RateLimiter seam: how often one identity may do one thing, shared by all instances.

Built on the ``limits`` package (a moving window): in memory on the embedded default, in
Redis in a cluster, so that two instances count one client's attempts together.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

__all__ = ["LimitsRateLimiter", "RateLimiter", "Rule", "memory_rate_limiter", "redis_rate_limiter"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named limit, such as ``Rule("login", "10/minute")``."""

    name: str
    limit: str

    def item(self) -> RateLimitItem:
        return parse(self.limit)


class RateLimiter(Protocol):
    async def hit(self, rule: Rule, identity: str) -> float | None:
        """Count one attempt; None when allowed, else the seconds until one would be."""
        ...

    async def peek(self, rule: Rule, identity: str) -> float | None:
        """Count nothing; None when an attempt would be allowed now, else the seconds until
        one would be. For limits on outcomes (failed sign-ins), counted once known."""
        ...

    async def close(self) -> None: ...


class LimitsRateLimiter:
    def __init__(self, storage: Storage, *, enabled: bool = True) -> None:
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._enabled = enabled

    async def hit(self, rule: Rule, identity: str) -> float | None:
        if not self._enabled:
            return None
        item = rule.item()
        if await self._strategy.hit(item, rule.name, identity):
            return None
        return await self._wait(item, rule.name, identity)

    async def peek(self, rule: Rule, identity: str) -> float | None:
        if not self._enabled:
            return None
        item = rule.item()
        if await self._strategy.test(item, rule.name, identity):
            return None
        return await self._wait(item, rule.name, identity)

    async def _wait(self, item: RateLimitItem, name: str, identity: str) -> float:
        stats = await self._strategy.get_window_stats(item, name, identity)
        return max(1.0, math.ceil(stats.reset_time - time.time()))

    async def close(self) -> None:
        pass


def memory_rate_limiter(*, enabled: bool = True) -> LimitsRateLimiter:
    return LimitsRateLimiter(MemoryStorage(), enabled=enabled)


def redis_rate_limiter(
    client: redis.Redis, url: str, *, namespace: str, enabled: bool = True
) -> LimitsRateLimiter:
    """On the app's own Redis connection pool (which the app closes)."""
    storage = RedisStorage(
        f"async+{url}",
        implementation="redispy",
        key_prefix=f"{namespace}:limits",
        connection_pool=client.connection_pool,  # type: ignore[arg-type]
    )
    return LimitsRateLimiter(storage, enabled=enabled)
