"""The Presence seam: who has at least one socket open, on any instance.

A user is online while at least one of their connections is registered and unexpired.
Instances refresh their connections' expiry while they live; a killed instance stops
refreshing, its entries expire, and whichever instance sweeps them first announces the
users who thereby went offline.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Protocol, cast

import redis.asyncio as redis

__all__ = ["MemoryPresence", "Presence", "RedisPresence"]


class Presence(Protocol):
    async def connect(self, user_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
        """Register a connection; True when the user was offline until now."""
        ...

    async def disconnect(self, user_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
        """Forget a connection; True when it was the user's last one."""
        ...

    async def refresh(self, connections: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """Keep these (user, connection) pairs alive for another ``ttl`` seconds."""
        ...

    async def sweep(self) -> list[uuid.UUID]:
        """Drop expired connections; return the users who thereby went offline."""
        ...

    async def online(self, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]: ...


class MemoryPresence:
    """One process: connections end when their sockets do, so nothing ever expires."""

    def __init__(self) -> None:
        self._connections: defaultdict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)

    async def connect(self, user_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
        connections = self._connections[user_id]
        connections.add(connection_id)
        return len(connections) == 1

    async def disconnect(self, user_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
        connections = self._connections.get(user_id)
        if connections is None or connection_id not in connections:
            return False
        connections.discard(connection_id)
        if connections:
            return False
        del self._connections[user_id]
        return True

    async def refresh(self, connections: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
        pass

    async def sweep(self) -> list[uuid.UUID]:
        return []

    async def online(self, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        return {user_id for user_id in user_ids if self._connections.get(user_id)}


class RedisPresence:
    """Two sorted sets scored by expiry time: one per user, and one of every connection
    (``user:connection``) that the sweep walks in expiry order."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._ttl = ttl
        # Wall-clock seconds, not monotonic: every instance compares the same scores.
        self._clock = clock
        self._prefix = f"{namespace}:presence:user:"
        self._all = f"{namespace}:presence:all"

    def _user_key(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}{user_id.hex}"

    async def connect(self, user_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
        now = self._clock()
        key = self._user_key(user_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {connection_id.hex: now + self._ttl})
            pipe.zadd(self._all, {f"{user_id.hex}:{connection_id.hex}": now + self._ttl})
            pipe.zcount(key, now, "+inf")
            *_, live = await pipe.execute()
        return int(live) == 1

    async def disconnect(self, user_id: uuid.UUID, connection_id: uuid.UUID) -> bool:
        key = self._user_key(user_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zrem(key, connection_id.hex)
            pipe.zrem(self._all, f"{user_id.hex}:{connection_id.hex}")
            pipe.zcount(key, self._clock(), "+inf")
            removed, _, live = await pipe.execute()
        # Not removed: a sweep already dropped it and announced the user offline.
        return int(removed) == 1 and int(live) == 0

    async def refresh(self, connections: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
        expires = self._clock() + self._ttl
        async with self._client.pipeline(transaction=False) as pipe:
            for user_id, connection_id in connections:
                pipe.zadd(self._user_key(user_id), {connection_id.hex: expires})
                pipe.zadd(self._all, {f"{user_id.hex}:{connection_id.hex}": expires})
            await pipe.execute()

    async def sweep(self) -> list[uuid.UUID]:
        now = self._clock()
        expired = cast(
            "list[bytes]",
            await self._client.zrangebyscore(self._all, "-inf", now, start=0, num=1000),
        )
        offline: list[uuid.UUID] = []
        for member in expired:
            user_hex, _, connection_hex = member.decode().partition(":")
            user_id = uuid.UUID(user_hex)
            key = self._user_key(user_id)
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zrem(self._all, member)
                pipe.zrem(key, connection_hex)
                pipe.zcount(key, now, "+inf")
                claimed, _, live = await pipe.execute()
            # Only the instance whose ZREM removed the entry announces it.
            if int(claimed) == 1 and int(live) == 0:
                offline.append(user_id)
        return offline

    async def online(self, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(user_ids)
        now = self._clock()
        async with self._client.pipeline(transaction=False) as pipe:
            for user_id in ids:
                pipe.zcount(self._user_key(user_id), now, "+inf")
            counts = await pipe.execute()
        return {user_id for user_id, count in zip(ids, counts, strict=True) if int(count) > 0}
