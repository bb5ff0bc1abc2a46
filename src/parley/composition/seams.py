"""Choosing each seam's implementation from settings: memory on the embedded default,
Redis when ``PARLEY_REDIS_URL`` is set."""

from __future__ import annotations

import redis.asyncio as redis

from parley.core.settings import RateLimitMode, Settings
from parley.ratelimit import RateLimiter, memory_rate_limiter, redis_rate_limiter
from parley.realtime.broker import Broker
from parley.realtime.memory_broker import MemoryBroker
from parley.realtime.presence import MemoryPresence, Presence, RedisPresence
from parley.realtime.redis_broker import RedisBroker
from parley.storage import LocalStorage, Storage
from parley.tasks.memory_queue import MemoryTaskQueue
from parley.tasks.queue import TaskQueue
from parley.tasks.redis_queue import RedisTaskQueue

__all__ = [
    "PRESENCE_TTL_SECONDS",
    "REDIS_REPLY_TIMEOUT_SECONDS",
    "build_broker",
    "build_presence",
    "build_queue",
    "build_rate_limiter",
    "build_storage",
    "redis_client",
]

# A killed instance's users go offline after at most this long (plus one sweep interval).
PRESENCE_TTL_SECONDS = 20.0


# The longest Parley waits for a Redis reply (and for a connection): its longest command
# blocks for half a second (a worker's claim). Without it, a Redis that stops answering with
# the connection left open (a host gone, a partition) would hold a caller until TCP gives up,
# hours later. redis-py 8 has the same default; set here, it does not hang on one.
REDIS_REPLY_TIMEOUT_SECONDS = 5.0


def redis_client(url: str) -> redis.Redis:
    # Health checks PING a connection idle for 10 s, so a silently dropped one is noticed;
    # TCP keepalive as well, where there is TCP (redis-py refuses it for a Unix socket).
    keepalive = {} if url.startswith("unix:") else {"socket_keepalive": True}
    return redis.Redis.from_url(
        url,
        health_check_interval=10,
        socket_timeout=REDIS_REPLY_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_REPLY_TIMEOUT_SECONDS,
        **keepalive,
    )


def build_broker(client: redis.Redis | None) -> Broker:
    return MemoryBroker() if client is None else RedisBroker(client)


def build_presence(settings: Settings, client: redis.Redis | None) -> Presence:
    if client is None:
        return MemoryPresence()
    return RedisPresence(client, namespace=settings.redis_namespace, ttl=PRESENCE_TTL_SECONDS)


def build_queue(settings: Settings, client: redis.Redis | None) -> TaskQueue:
    if client is None:
        return MemoryTaskQueue()
    return RedisTaskQueue(
        client, namespace=settings.redis_namespace, reclaim_after=settings.job_reclaim_after
    )


def build_rate_limiter(settings: Settings, client: redis.Redis | None) -> RateLimiter:
    enabled = settings.rate_limits is RateLimitMode.ON
    if client is None or settings.redis_url is None:
        return memory_rate_limiter(enabled=enabled)
    namespace = settings.redis_namespace
    return redis_rate_limiter(client, settings.redis_url, namespace=namespace, enabled=enabled)


def build_storage(settings: Settings) -> Storage:
    return LocalStorage(settings.files_dir)
